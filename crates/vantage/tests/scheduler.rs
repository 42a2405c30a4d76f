//! The scheduler with real server processes: a server killed (SIGKILL) in the middle of a job
//! and started again completes that job exactly once; two servers on one PostgreSQL database
//! never run the same job twice and queue a scope's scheduled run once.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use vantage_test_utils::TestDb;

fn vantage() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vantage"));
    c.env_remove("VANTAGE_DATABASE")
        .env_remove("VANTAGE_CONFIG")
        .env("VANTAGE_FEEDS_REFRESH", "off");
    c
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn run(args: &[&str]) -> Output {
    let o = vantage().args(args).output().unwrap();
    assert!(
        o.status.success(),
        "vantage {args:?} failed: {}",
        text(&o.stderr)
    );
    o
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `vantage serve` with its output in files (a pipe nobody reads would block it).
fn serve(common: &[&str], dir: &Path, name: &str) -> Child {
    let listen = format!("127.0.0.1:{}", free_port());
    let out = std::fs::File::create(dir.join(format!("{name}.out"))).unwrap();
    let err = std::fs::File::create(dir.join(format!("{name}.err"))).unwrap();
    vantage()
        .args(["serve", "--listen", &listen])
        .args(common)
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .spawn()
        .unwrap()
}

/// The network-scan jobs, newest first (servers also run a `prioritize` job at start).
fn jobs(common: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec![
        "jobs",
        "list",
        "--kind",
        "network_scan",
        "--format",
        "json",
        "--limit",
        "100",
    ];
    args.extend_from_slice(common);
    serde_json::from_slice(&run(&args).stdout).unwrap()
}

fn job_log(common: &[&str], id: i64) -> Vec<String> {
    let id = id.to_string();
    let mut args = vec!["jobs", "show", &id, "--format", "json"];
    args.extend_from_slice(common);
    let v: serde_json::Value = serde_json::from_slice(&run(&args).stdout).unwrap();
    v["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["message"].as_str().unwrap().to_string())
        .collect()
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("timed out waiting for {what}");
}

fn write_config(dir: &Path, lease: u64) -> String {
    let path = dir.join("vantage.toml");
    std::fs::write(
        &path,
        format!(
            "[scan]\nrate = 1500\n\n[scheduler]\ntick_secs = 1\nlease_secs = {lease}\nretry_base_secs = 1\n"
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn a_server_killed_mid_job_completes_it_once_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_string();
    let config = write_config(dir.path(), 3);
    let common = ["--data-dir", d.as_str(), "--config", config.as_str()];
    let scopes = dir.path().join("scopes.toml");
    // About 8 s of connect scanning at 1,500 attempts/s.
    std::fs::write(
        &scopes,
        "[[scope]]\nname = \"lab\"\nranges = [\"127.0.0.1\"]\n\
         collectors = [{ kind = \"network\", ports = \"1-12000\", service_detection = false }]\n",
    )
    .unwrap();
    let mut args = vec!["scopes", "apply", scopes.to_str().unwrap()];
    args.extend_from_slice(&common);
    run(&args);
    let mut args = vec!["jobs", "run", "--scope", "lab"];
    args.extend_from_slice(&common);
    assert!(text(&run(&args).stdout).contains("queued job 1"));

    let mut first = serve(&common, dir.path(), "first");
    wait_for("the job to run", 30, || {
        jobs(&common)[0]["status"] == "running"
    });
    std::thread::sleep(Duration::from_millis(1500));
    first.kill().unwrap(); // SIGKILL: no cleanup at all
    first.wait().unwrap();
    let j = &jobs(&common)[0];
    assert_eq!(
        j["status"], "running",
        "still marked running after the kill: {j}"
    );

    let mut second = serve(&common, dir.path(), "second");
    wait_for("the job to complete", 90, || {
        jobs(&common)[0]["status"] == "done"
    });
    let j = &jobs(&common)[0];
    assert_eq!(j["attempts"], 2, "{j}");
    assert!(
        j["result"].as_str().unwrap().contains("12000")
            || j["result"].as_str().unwrap().contains("1 hosts scanned"),
        "{j}"
    );
    let log = job_log(&common, 1);
    assert_eq!(
        log.iter().filter(|l| l.starts_with("started by")).count(),
        2,
        "{log:?}"
    );
    assert_eq!(
        log.iter().filter(|l| l.starts_with("done:")).count(),
        1,
        "{log:?}"
    );
    assert!(log.iter().any(|l| l.contains("lease expired")), "{log:?}");
    // Still done, and only one job, a while later.
    std::thread::sleep(Duration::from_secs(4));
    let all = jobs(&common);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["status"], "done");
    second.kill().unwrap();
    second.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn two_servers_on_one_postgres_never_run_a_job_twice() {
    let db = TestDb::postgres().await;
    let url = db.url.clone();
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap().to_string();
        let config = write_config(dir.path(), 10);
        let common = [
            "--data-dir",
            d.as_str(),
            "--config",
            config.as_str(),
            "--database",
            url.as_str(),
        ];
        let scopes = dir.path().join("scopes.toml");
        std::fs::write(
            &scopes,
            "[[scope]]\nname = \"pair\"\nranges = [\"127.0.0.1\"]\nfrequency = \"hourly\"\n\
             collectors = [{ kind = \"network\", ports = \"1-3000\", service_detection = false }]\n\n\
             [[scope]]\nname = \"bulk\"\nranges = [\"127.0.0.1\"]\n\
             collectors = [{ kind = \"network\", ports = \"1-3000\", service_detection = false }]\n",
        )
        .unwrap();
        let mut args = vec!["scopes", "apply", scopes.to_str().unwrap()];
        args.extend_from_slice(&common);
        run(&args);
        for _ in 0..8 {
            let mut args = vec!["jobs", "run", "--scope", "bulk"];
            args.extend_from_slice(&common);
            run(&args);
        }
        let mut a = serve(&common, dir.path(), "a");
        let mut b = serve(&common, dir.path(), "b");
        wait_for("every job to finish", 120, || {
            let all = jobs(&common);
            all.len() == 9
                && all
                    .iter()
                    .all(|j| j["status"] == "done" || j["status"] == "failed")
        });
        let all = jobs(&common);
        let scheduled = all.iter().filter(|j| j["origin"] == "schedule").count();
        assert_eq!(scheduled, 1, "the hourly run is queued once by two schedulers: {all:?}");
        let mut workers = std::collections::BTreeSet::new();
        for j in &all {
            assert_eq!(j["status"], "done", "{j}");
            assert_eq!(j["attempts"], 1, "run once: {j}");
            let log = job_log(&common, j["id"].as_i64().unwrap());
            let started: Vec<&String> = log.iter().filter(|l| l.starts_with("started by")).collect();
            assert_eq!(started.len(), 1, "{log:?}");
            workers.insert(started[0].split_whitespace().nth(2).unwrap().to_string());
        }
        // Both servers took work (each runs two jobs at once and there were nine).
        assert_eq!(workers.len(), 2, "{workers:?}");
        for c in [&mut a, &mut b] {
            Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status()
                .unwrap();
            assert!(c.wait().unwrap().success());
        }
    })
    .await
    .unwrap();
}
