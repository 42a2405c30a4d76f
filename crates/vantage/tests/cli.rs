//! The binary as a user runs it: exit codes, error lines, output formats, serve on both backends.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use vantage_test_utils::TestDb;

fn vantage() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vantage"));
    clean_env(&mut c);
    c
}

/// The suite controls the environment: no stray configuration from the developer's shell, and
/// tests only talk to 127.0.0.1 (the server's feed refresh, the internet, stays off).
fn clean_env(c: &mut Command) {
    for (k, _) in std::env::vars() {
        if k.starts_with("VANTAGE_") && !k.starts_with("VANTAGE_TEST_") {
            c.env_remove(k);
        }
    }
    c.env("VANTAGE_FEEDS_REFRESH", "off");
    c.stdin(Stdio::null());
}

fn run(args: &[&str]) -> Output {
    vantage().args(args).output().expect("run vantage")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Asserts an exit code and a single `error:` line on stderr containing `needle`.
fn assert_error(o: &Output, code: i32, needle: &str) {
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one error line expected, got: {err}");
    assert!(
        lines[0].starts_with("error: ") && lines[0].contains(needle),
        "{err}"
    );
    assert!(
        o.stdout.is_empty(),
        "nothing on stdout: {}",
        text(&o.stdout)
    );
}

fn seeded_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let o = run(&[
        "--data-dir",
        d,
        "dev",
        "seed",
        "--assets",
        "40",
        "--findings-per-asset",
        "10",
        "--seed",
        "7",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("seeded 40 assets"),
        "{}",
        text(&o.stdout)
    );
    dir
}

#[test]
fn help_teaches() {
    let o = run(&["--help"]);
    assert!(o.status.success());
    let out = text(&o.stdout);
    for word in [
        "serve",
        "findings",
        "assets",
        "--data-dir",
        "--database",
        "Exit codes",
    ] {
        assert!(out.contains(word), "--help lacks {word}");
    }
    let o = run(&["findings", "list", "--help"]);
    assert!(text(&o.stdout).contains("--priority") && text(&o.stdout).contains("table"));
}

#[test]
fn an_unknown_format_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let o = run(&[
        "findings",
        "list",
        "--format",
        "xml",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("xml"));
    assert!(!data.exists(), "nothing written");
}

#[test]
fn an_unreadable_config_is_one_clear_line_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let o = run(&[
        "--config",
        "/nonexistent/vantage.toml",
        "--data-dir",
        data.to_str().unwrap(),
        "assets",
        "list",
    ]);
    assert_error(
        &o,
        2,
        "cannot read configuration file /nonexistent/vantage.toml",
    );
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[server]\nlisten = \"not an address\"\n").unwrap();
    let o = run(&[
        "assets",
        "list",
        "--config",
        bad.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert_error(&o, 2, "bad.toml");
    assert!(!data.exists(), "nothing written");
}

#[test]
fn a_database_that_does_not_connect_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let o = vantage()
        .args([
            "assets",
            "list",
            "--database",
            "postgres://vantage:s3cret@127.0.0.1:1/nothing",
        ])
        .current_dir(dir.path())
        .env("XDG_DATA_HOME", dir.path())
        .output()
        .unwrap();
    assert_error(
        &o,
        1,
        "cannot connect to the database at postgres://vantage:***@127.0.0.1:1/nothing",
    );
    assert!(!text(&o.stderr).contains("s3cret"), "password leaked");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing written"
    );
    let o = run(&["assets", "list", "--database", "mysql://x/y"]);
    assert_error(&o, 2, "unsupported database URL");
}

#[test]
fn an_unwritable_data_directory_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    // A regular file where a directory should be: unwritable even for root.
    let file = dir.path().join("file");
    std::fs::write(&file, "").unwrap();
    let data = file.join("data");
    let o = run(&["--data-dir", data.to_str().unwrap(), "migrate"]);
    assert_error(
        &o,
        1,
        &format!("data directory {} is not usable", data.display()),
    );
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    if is_root() {
        return; // permission bits do not stop root; the case above covers it
    }
    std::fs::set_permissions(&ro, std::os::unix::fs::PermissionsExt::from_mode(0o555)).unwrap();
    let o = run(&["--data-dir", ro.to_str().unwrap(), "migrate"]);
    assert_error(&o, 1, "is not usable");
    assert_eq!(std::fs::read_dir(&ro).unwrap().count(), 0);
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| text(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

#[test]
fn findings_list_in_every_format_with_filters() {
    let dir = seeded_dir();
    let d = dir.path().to_str().unwrap();
    let o = run(&["findings", "list", "--data-dir", d, "--format", "json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let all: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let n = all.as_array().unwrap().len();
    assert!(n > 200, "{n} open findings");
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .all(|f| ["new", "open", "reopened"].contains(&f["status"].as_str().unwrap()))
    );

    let o = run(&[
        "--data-dir",
        d,
        "findings",
        "list",
        "--status",
        "all",
        "--format",
        "csv",
    ]);
    let csv = text(&o.stdout);
    assert!(csv.starts_with(
        "id,asset,vulnerability,priority,score,status,component,installed,fixed,source,first_detected,fixed_at,reopened\n"
    ));
    assert!(
        csv.lines().count() - 1 > n,
        "all statuses include the fixed ones"
    );
    assert!(csv.contains(",fixed,"));

    let o = run(&[
        "--data-dir",
        d,
        "findings",
        "list",
        "--scope",
        "DMZ",
        "--priority",
        "P1",
        "--limit",
        "3",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let table = text(&o.stdout);
    assert!(
        table.lines().last().unwrap().ends_with("rows") || table.contains("row"),
        "{table}"
    );

    let o = run(&[
        "--data-dir",
        d,
        "findings",
        "list",
        "--limit",
        "5",
        "--format",
        "json",
    ]);
    let five: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(five.as_array().unwrap().len(), 5);

    let asset = all[0]["asset_name"].as_str().unwrap();
    let o = run(&[
        "--data-dir",
        d,
        "findings",
        "list",
        "--asset",
        asset,
        "--format",
        "json",
    ]);
    let mine: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        mine.as_array()
            .unwrap()
            .iter()
            .all(|f| f["asset_name"] == asset)
    );

    assert_error(
        &run(&["--data-dir", d, "findings", "list", "--scope", "Nope"]),
        2,
        "no scope named `Nope`",
    );
    assert_error(
        &run(&["--data-dir", d, "findings", "list", "--status", "closed"]),
        2,
        "status",
    );
    assert_error(
        &run(&["--data-dir", d, "findings", "list", "--cve", "CVE-1"]),
        2,
        "CVE",
    );
}

#[test]
fn assets_and_scopes_list() {
    let dir = seeded_dir();
    let d = dir.path().to_str().unwrap();
    let o = run(&[
        "assets",
        "list",
        "--data-dir",
        d,
        "--format",
        "json",
        "--search",
        "srv-00001",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(!v.as_array().unwrap().is_empty());
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .all(|a| a["name"].as_str().unwrap().contains("srv-00001"))
    );
    let o = run(&["scopes", "list", "--data-dir", d, "--format", "csv"]);
    let csv = text(&o.stdout);
    for s in ["Production", "DMZ", "Corporate", "Test"] {
        assert!(csv.contains(s), "{csv}");
    }
    assert_error(
        &run(&["assets", "list", "--data-dir", d, "--kind", "server"]),
        2,
        "unknown asset kind",
    );
}

#[test]
fn config_show_reflects_every_layer_and_warns_about_typos() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("vantage.toml");
    std::fs::write(
        &cfg,
        "[server]\nlisten = \"127.0.0.1:9100\"\nlistne = 1\n[log]\nlevel = \"debug\"\n",
    )
    .unwrap();
    let o = vantage()
        .args([
            "config",
            "show",
            "--config",
            cfg.to_str().unwrap(),
            "--format",
            "json",
            "--database",
            "postgres://u:pw@h/db",
        ])
        .env("VANTAGE_LOG_LEVEL", "warn")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["server"]["listen"], "127.0.0.1:9100");
    assert_eq!(v["log"]["level"], "warn", "env beats file");
    assert_eq!(
        v["database"]["url"], "postgres://u:***@h/db",
        "flag applied, password hidden"
    );
    assert!(
        text(&o.stderr).contains("unknown key `server.listne`"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn tokens_and_password_resets_need_an_existing_user() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    assert_error(
        &run(&["--data-dir", d, "tokens", "create", "--user", "ghost"]),
        2,
        "no user named `ghost`",
    );
    assert_error(
        &run(&["--data-dir", d, "users", "reset-password", "ghost"]),
        2,
        "no user named `ghost`",
    );
}

#[test]
fn the_openapi_document_is_printed_without_a_database() {
    let o = run(&["dev", "openapi", "--data-dir", "/nonexistent/never-created"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["openapi"].as_str().unwrap().starts_with("3."));
    assert!(!Path::new("/nonexistent/never-created").exists());
}

#[test]
fn findings_are_prioritized_and_explained() {
    let dir = seeded_dir();
    let d = dir.path().to_str().unwrap();
    let fixtures =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../vantage-app/tests/fixtures/priority");
    let o = run(&[
        "--data-dir",
        d,
        "feeds",
        "import",
        fixtures.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    // New knowledge prioritizes the findings at once (said on stderr; stdout is the report).
    let err = text(&o.stderr);
    assert!(
        err.contains("prioritized: ") && err.contains("newly prioritized"),
        "{err}"
    );
    let o = run(&[
        "--data-dir",
        d,
        "findings",
        "prioritize",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let report = &report[0];
    assert!(report["contexts"].as_u64().unwrap() > 10, "{report}");
    assert_eq!(
        report["findings_attached"], 0,
        "already done by the import: {report}"
    );
    assert!(report["job"].as_i64().is_some(), "{report}");

    // The seeded CVEs are unknown to the knowledge base: no vector, no threat → P4, explained.
    let o = run(&[
        "--data-dir",
        d,
        "findings",
        "list",
        "--priority",
        "P4",
        "--explain",
        "--format",
        "csv",
        "--limit",
        "3",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let csv = text(&o.stdout);
    assert!(
        csv.starts_with("id,asset,vulnerability,priority,score,due,explanation,derived_vector\n"),
        "{csv}"
    );
    assert!(
        csv.contains("no CVSS vector → P4 (no rule matched), due in 180 days"),
        "{csv}"
    );
    let first_id = csv
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_string();

    let o = run(&[
        "--data-dir",
        d,
        "findings",
        "list",
        "--format",
        "json",
        "--limit",
        "1",
    ]);
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        rows[0]["prioritization"]["explanation"].is_string(),
        "{rows}"
    );

    let o = run(&[
        "--data-dir",
        d,
        "findings",
        "history",
        &first_id,
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let history: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(history[0]["new_priority"], "p4", "{history}");
    assert!(history[0]["old_priority"].is_null());

    // Unchanged knowledge: the second run rewrites nothing.
    let o = run(&[
        "--data-dir",
        d,
        "findings",
        "prioritize",
        "--format",
        "json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report[0]["contexts_changed"], 0, "{report}");

    let o = run(&[
        "--data-dir",
        d,
        "scopes",
        "set-priority",
        "DMZ",
        "--policy",
        "nope",
    ]);
    assert_error(&o, 2, "no priority policy \"nope\"; known: default");
    let o = run(&[
        "--data-dir",
        d,
        "scopes",
        "set-priority",
        "DMZ",
        "--model",
        "ssvc",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.contains("scope DMZ: priority policy default, model ssvc"),
        "{out}"
    );
    assert!(out.contains("prioritized: "), "{out}");

    let o = run(&["--data-dir", d, "findings", "history", "999999"]);
    assert_error(&o, 2, "finding 999999");
}

#[test]
fn inventory_import_finds_and_gates() {
    let data = std::env::var("VANTAGE_TEST_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let secdb = data.join("distro/alpine-secdb/v3.19-main.json.gz");
    let o = run(&["--data-dir", d, "feeds", "import", secdb.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let installed = dir.path().join("installed");
    std::fs::write(
        &installed,
        "P:busybox\nV:1.36.1-r15\nA:x86_64\no:busybox\n\nP:ssl_client\nV:1.36.1-r15\no:busybox\n\nP:musl\nV:1.2.4_git20230717-r5\no:musl\n",
    )
    .unwrap();
    let file = installed.to_str().unwrap();
    let o = run(&[
        "--data-dir",
        d,
        "inventory",
        "import",
        "--asset",
        "box",
        "--os",
        "alpine:3.19",
        file,
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.starts_with(
            "box (alpine:3.19, apk-installed): 3 packages (2 source packages), 4 open findings"
        ),
        "{out}"
    );

    let o = run(&[
        "--data-dir",
        d,
        "inventory",
        "import",
        "--asset",
        "box",
        "--os",
        "alpine:3.19",
        file,
        "--format",
        "json",
        "--fail-on",
        "p4",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("4 open findings at P4 or above (--fail-on p4)"),
        "{}",
        text(&o.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (report["findings"].as_u64(), report["packages"].as_u64()),
        (Some(4), Some(3))
    );

    let o = run(&[
        "--data-dir",
        d,
        "findings",
        "list",
        "--asset",
        "box",
        "--format",
        "json",
    ]);
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|f| f["evidence"]["source"] == "alpine-secdb v3.19/main")
    );

    let o = run(&["--data-dir", d, "inventory", "redetect", "--format", "json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (
            r["assets"].as_u64(),
            r["findings"].as_u64(),
            r["fixed"].as_u64()
        ),
        (Some(1), Some(4), Some(0)),
        "{r}"
    );

    std::fs::write(&installed, "P:busybox\nV:one\n").unwrap();
    let o = run(&[
        "--data-dir",
        d,
        "inventory",
        "import",
        "--asset",
        "box",
        "--os",
        "alpine:3.19",
        file,
    ]);
    assert_error(&o, 2, "line 2: package busybox");
    let o = run(&[
        "--data-dir",
        d,
        "inventory",
        "import",
        "--asset",
        "box",
        "--os",
        "alpine",
        file,
    ]);
    assert_error(&o, 2, "expected DISTRO:RELEASE");
}

#[test]
fn cvss_scores_arguments_and_standard_input_line_for_line() {
    let v31 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U/RL:O/RC:R";
    let o = run(&["cvss", v31, "--data-dir", "/nonexistent/never-created"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let row: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        row,
        serde_json::json!({"vector": v31, "version": "3.1", "base_score": 9.8, "score": 8.2,
            "severity": "High", "nomenclature": null})
    );

    // Standard input: one answer per line, in order; a bad line is answered and the run goes on.
    let input = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:A/CR:H/MAV:L\n\
                 CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/AV:N\n\
                 AV:N/AC:L/Au:N/C:P/I:P/A:P\n";
    let mut child = vantage()
        .arg("cvss")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("1 of 3 vectors refused"));
    let rows: Vec<serde_json::Value> = text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["nomenclature"], "CVSS-BTE");
    assert_eq!(
        (rows[0]["base_score"].as_f64(), rows[0]["score"].as_f64()),
        (Some(9.3), Some(8.6))
    );
    assert_eq!(rows[1]["error"], "duplicate metric AV");
    assert_eq!(rows[2]["version"], "2.0");

    let o = run(&["cvss", "--format", "table", v31]);
    assert!(o.status.success());
    assert!(text(&o.stdout).contains("8.2"), "{}", text(&o.stdout));
}

/// Starts `vantage serve` on a free port, waits for /healthz, returns (child, port, stdout so far).
struct Server {
    child: std::process::Child,
    port: u16,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let listen = format!("127.0.0.1:{port}");
        let child = vantage()
            .args(["serve", "--listen", &listen])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let s = Server { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if s.get("/healthz").0 == 200 {
                return s;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("server did not answer /healthz");
    }

    /// A minimal HTTP/1.1 GET over loopback (status, body).
    fn get(&self, path: &str) -> (u16, String) {
        use std::io::{Read, Write};
        let Ok(mut c) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return (0, String::new());
        };
        let _ = write!(
            c,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        );
        let mut buf = String::new();
        let _ = c.read_to_string(&mut buf);
        let status = buf
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = buf
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }

    /// Sends SIGTERM and returns (exit status, stdout).
    fn stop(mut self) -> (std::process::ExitStatus, String) {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let out = std::mem::replace(&mut self.child, Command::new("true").spawn().unwrap())
            .wait_with_output()
            .unwrap();
        (out.status, text(&out.stdout))
    }
}

fn serve_and_check(extra: &[&str], database: &str) {
    let s = Server::start(extra);
    let (status, body) = s.get("/healthz");
    assert_eq!(status, 200);
    assert!(
        body.contains(&format!("\"database\":\"{database}\"")),
        "{body}"
    );
    assert_eq!(s.get("/api/v1/findings").0, 401);
    assert!(s.get("/api/v1/openapi.json").1.contains("\"openapi\":\"3."));
    let (exit, stdout) = s.stop();
    assert!(exit.success(), "graceful shutdown exits 0: {exit:?}");
    assert!(
        stdout.contains("username: admin") && stdout.contains("password: "),
        "{stdout}"
    );
    assert!(
        stdout.contains("listening on http://127.0.0.1:"),
        "{stdout}"
    );
}

#[test]
fn serve_on_sqlite_creates_its_database_and_prints_the_first_admin() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("fresh/data");
    serve_and_check(&["--data-dir", data.to_str().unwrap()], "sqlite");
    assert!(data.join("vantage.db").exists());
    // Second start: no new administrator, no password printed.
    let s = Server::start(&["--data-dir", data.to_str().unwrap()]);
    let (_, stdout) = s.stop();
    assert!(!stdout.contains("password:"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_and_migrate_on_postgres() {
    let db = TestDb::postgres().await;
    let dir = tempfile::tempdir().unwrap();
    let url = db.url.clone();
    let d = dir.path().to_str().unwrap().to_string();
    tokio::task::spawn_blocking(move || {
        let o = run(&["migrate", "--database", &url, "--data-dir", &d]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        assert!(
            text(&o.stdout).contains(&format!(
                "schema version {}",
                vantage_store::LATEST_MIGRATION
            )),
            "{}",
            text(&o.stdout)
        );
        serve_and_check(&["--database", &url, "--data-dir", &d], "postgres");
    })
    .await
    .unwrap();
}

fn app_fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../vantage-app/tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn feeds_import_and_the_encyclopedia() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d");
    let d = d.to_str().unwrap();
    let o = run(&[
        "--data-dir",
        d,
        "feeds",
        "import",
        &app_fixture("nvd-two.jsonl"),
        &app_fixture("cve5-one.jsonl"),
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v[0]["feed"].as_str(), v[0]["counts"]["new"].as_u64()),
        (Some("nvd"), Some(2))
    );
    let o = run(&["--data-dir", d, "cve", "CVE-2030-0001", "--format", "json"]);
    let view: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(view["ssvc"][0]["exploitation"], "poc");
    let o = run(&["--data-dir", d, "cve", "CVE-2030-0001"]);
    assert!(
        text(&o.stdout).contains("SSVC (CISA-ADP): exploitation poc"),
        "{}",
        text(&o.stdout)
    );

    // A truncated file: exit 2, one line naming the file and line; the earlier data stays.
    let bad = dir.path().join("truncated.jsonl");
    std::fs::write(&bad, "{\"cve\": {\"id\": \"CVE-2099-0001\", \"broken").unwrap();
    let o = run(&["--data-dir", d, "feeds", "import", bad.to_str().unwrap()]);
    assert_error(&o, 2, "truncated.jsonl: line 1");
    assert!(
        run(&["--data-dir", d, "cve", "CVE-2030-0001"])
            .status
            .success(),
        "data intact"
    );
    assert_error(
        &run(&["--data-dir", d, "cve", "CVE-2099-0001"]),
        2,
        "nothing is known about CVE-2099-0001",
    );
    assert_error(&run(&["--data-dir", d, "cve", "bogus"]), 2, "bogus");
    assert_error(
        &run(&["--data-dir", d, "feeds", "import", "/nonexistent/file"]),
        2,
        "/nonexistent/file",
    );

    let o = run(&["--data-dir", d, "feeds", "status", "--format", "csv"]);
    let csv = text(&o.stdout);
    assert!(
        csv.starts_with("feed,last_file,data_date,imported_at,records,age_days,stale\n"),
        "{csv}"
    );
    assert!(
        csv.contains("nvd,") && csv.contains("cve5,") && csv.contains(",0,ok\n"),
        "{csv}"
    );
}

/// `feeds sync` against Python's `http.server` on 127.0.0.1 (a real server that sends
/// Last-Modified and answers If-Modified-Since with 304), endpoints set in vantage.toml.
#[test]
fn feeds_sync_downloads_then_asks_only_for_changes() {
    let dir = tempfile::tempdir().unwrap();
    let www = dir.path().join("www");
    std::fs::create_dir(&www).unwrap();
    std::fs::write(
        www.join("kev.json"),
        r#"{"title":"CISA Catalog of Known Exploited Vulnerabilities","catalogVersion":"2026.11.01","dateReleased":"2026-11-01T12:00:00.000Z","count":1,"vulnerabilities":[{"cveID":"CVE-2018-13379","vendorProject":"Fortinet","product":"FortiOS","vulnerabilityName":"Fortinet FortiOS SSL VPN Path Traversal Vulnerability","dateAdded":"2021-11-03","shortDescription":"Path traversal.","requiredAction":"Apply updates per vendor instructions.","dueDate":"2022-05-03","knownRansomwareCampaignUse":"Known","notes":"","cwes":["CWE-22"]}]}"#,
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut http = Command::new("python3")
        .args([
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            &port.to_string(),
            "--directory",
        ])
        .arg(&www)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 runs http.server");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let toml = dir.path().join("vantage.toml");
    std::fs::write(
        &toml,
        format!(
            "[feeds]\nretries = 1\nbackoff_ms = 10\n[feeds.endpoints]\nkev = \"http://127.0.0.1:{port}/kev.json\"\nepss = \"http://127.0.0.1:{port}/missing.csv.gz\"\n"
        ),
    )
    .unwrap();
    let d = dir.path().join("d");
    let args = |extra: &[&str]| {
        let mut a = vec![
            "--data-dir".to_string(),
            d.display().to_string(),
            "--config".into(),
            toml.display().to_string(),
            "feeds".into(),
            "sync".into(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let sync = |extra: &[&str]| vantage().args(args(extra)).output().unwrap();

    let o = sync(&["kev", "--format", "json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (
            v[0]["source"].as_str(),
            v[0]["outcome"].as_str(),
            v[0]["counts"]["new"].as_u64()
        ),
        (Some("kev"), Some("updated"), Some(1))
    );
    let o = sync(&["kev", "--format", "csv"]);
    let csv = text(&o.stdout);
    assert!(
        csv.starts_with("source,outcome,downloaded,not_modified,bytes,"),
        "{csv}"
    );
    assert!(
        csv.contains("\nkev,unchanged,0,1,0,0,0,0,0,"),
        "If-Modified-Since → 304: {csv}"
    );
    let o = run(&[
        "--data-dir",
        d.to_str().unwrap(),
        "cve",
        "CVE-2018-13379",
        "--format",
        "json",
    ]);
    let view: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(view["kev"]["known_ransomware"], true, "{view}");

    // A missing file fails its source (exit 1, the reason on stderr); the others are applied.
    let o = sync(&["kev", "epss"]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("epss: http://127.0.0.1:") && err.contains("404"),
        "{err}"
    );
    assert!(err.contains("1 of 2 sources failed: epss"), "{err}");
    assert!(text(&o.stdout).contains("FAILED"));
    assert_error(&sync(&["kevv"]), 2, "unknown feed source `kevv`");
    let _ = http.kill();
    let _ = http.wait();
}

#[test]
fn scan_sbom_judges_language_packages_and_names_bad_purls() {
    let data = std::env::var("VANTAGE_TEST_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let rustsec = data.join("advisories/rustsec-osv.jsonl.gz");
    let o = run(&[
        "--data-dir",
        d,
        "feeds",
        "import",
        rustsec.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let bom = dir.path().join("bom.json");
    std::fs::write(
        &bom,
        r#"{"bomFormat": "CycloneDX", "specVersion": "1.5",
  "metadata": {"component": {"type": "application", "name": "edge-proxy"}},
  "components": [{"type": "library", "name": "tokio", "purl": "pkg:cargo/tokio@1.18.0"}]}"#,
    )
    .unwrap();
    let file = bom.to_str().unwrap();
    let o = run(&["--data-dir", d, "scan", "sbom", file]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.starts_with("edge-proxy (no OS, cyclonedx): 1 packages (1 language packages, "),
        "{out}"
    );
    let o = run(&[
        "--data-dir",
        d,
        "findings",
        "list",
        "--asset",
        "edge-proxy",
        "--format",
        "json",
    ]);
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let tokio = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["vuln_id"] == "CVE-2023-22466")
        .expect("tokio's named-pipe advisory");
    assert_eq!(tokio["evidence"]["confidence"], "medium");
    assert_eq!(tokio["evidence"]["advisory"], "RUSTSEC-2023-0001");
    assert_eq!(tokio["evidence"]["fixed_version"], "1.18.4");

    // The gate, and a bad Package URL (exit 2, its JSON path and line).
    let o = run(&["--data-dir", d, "scan", "sbom", file, "--fail-on", "p4"]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    std::fs::write(
        &bom,
        "{\"bomFormat\": \"CycloneDX\",\n \"components\": [\n  {\"purl\": \"cargo/tokio@1.18.0\"}]}",
    )
    .unwrap();
    let o = run(&[
        "--data-dir",
        d,
        "scan",
        "sbom",
        file,
        "--asset",
        "edge-proxy",
    ]);
    assert_error(
        &o,
        2,
        "line 3: components[0].purl: invalid Package URL \"cargo/tokio@1.18.0\"",
    );
}

#[test]
fn scan_network_and_import_nmap_from_the_command_line() {
    use vantage_test_utils::lab::{RawService, loopback_net};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let net = loopback_net();
    let ip = format!("{net}20");
    let ssh = RawService::start(
        format!("{ip}:2022").parse().unwrap(),
        Some(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n".to_vec()),
    );
    let o = run(&[
        "--data-dir",
        d,
        "scopes",
        "create",
        "lab",
        "--range",
        &format!("{ip}/32"),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let scan = |extra: &[&str]| {
        let mut args = vec!["--data-dir", d, "scan", "network"];
        args.extend_from_slice(extra);
        run(&args)
    };
    // Refusals come before any connection, with exit code 2.
    let o = scan(&[
        &ip, "--ports", "2022", "--scope", "nope", "--format", "json",
    ]);
    assert_error(&o, 2, "scope `nope` does not exist");
    let outside = format!("{net}21");
    let o = scan(&[&outside, "--ports", "2022", "--scope", "lab"]);
    assert_error(&o, 2, "outside scope `lab`");
    let o = scan(&["10.0.0.300", "--ports", "22"]);
    assert_error(&o, 2, "target `10.0.0.300`");
    assert_eq!(ssh.accepted.load(std::sync::atomic::Ordering::Relaxed), 0);

    let o = scan(&[
        &ip,
        "--ports",
        "2022,2023",
        "--scope",
        "lab",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let port = &r["hosts"][0]["ports"][0];
    assert_eq!(port["port"], 2022);
    assert_eq!(port["state"], "open");
    assert_eq!(port["name"], "ssh");
    assert_eq!(port["product"], "OpenSSH");
    assert_eq!(port["version"], "9.2p1 Debian 2+deb12u3");
    assert_eq!(r["hosts"][0]["ports"].as_array().unwrap().len(), 1);
    assert_eq!(r["hosts"][0]["closed"], 1);
    assert_eq!(r["scope"], "lab");
    let o = scan(&[&ip, "--ports", "2022", "--format", "csv"]);
    let csv = text(&o.stdout);
    assert!(
        csv.starts_with("host,hostname,port,state,service,product,version"),
        "{csv}"
    );
    assert!(
        csv.contains(&format!(
            "{ip},,2022,open,ssh,OpenSSH,9.2p1 Debian 2+deb12u3"
        )),
        "{csv}"
    );
    let o = scan(&[&ip, "--ports", "2022"]);
    let table = text(&o.stdout);
    assert!(
        table.contains("OpenSSH") && table.contains("1 of 1 hosts up, 1 open ports"),
        "{table}"
    );

    // nmap's XML of the same service, imported; a malformed file is refused.
    let xml = dir.path().join("nmap.xml");
    let o = Command::new("nmap")
        .args(["-sV", "-Pn", "-n", "-p", "2022", "-oX"])
        .arg(&xml)
        .arg(&ip)
        .output()
        .expect("nmap is installed");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = run(&[
        "--data-dir",
        d,
        "import",
        "nmap",
        xml.to_str().unwrap(),
        "--scope",
        "lab",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["kind"], "nmap");
    assert_eq!(r["hosts"][0]["ports"][0]["product"], "OpenSSH");
    let bad = dir.path().join("bad.xml");
    std::fs::write(
        &bad,
        "<nmaprun><host><address addr=\"x\" addrtype=\"ipv4\"/></host></nmaprun>",
    )
    .unwrap();
    let o = run(&["--data-dir", d, "import", "nmap", bad.to_str().unwrap()]);
    assert_error(&o, 2, "address `x` is not an IP address");
    let o = run(&["--data-dir", d, "assets", "list", "--format", "csv"]);
    assert!(text(&o.stdout).contains(&ip), "{}", text(&o.stdout));
}

#[test]
fn a_name_that_does_not_resolve_is_refused() {
    // Inside a namespace of the test's own, whose only route is its veth pair: the resolver's
    // query cannot leave the machine.
    let ns = vantage_test_utils::lab::Netns::new();
    let dir = tempfile::tempdir().unwrap();
    let mut c = Command::new("ip");
    c.args(["netns", "exec", &ns.name])
        .arg(env!("CARGO_BIN_EXE_vantage"));
    clean_env(&mut c);
    let o = c
        .args(["--data-dir", dir.path().to_str().unwrap()])
        .args(["scan", "network", "no-such-host.invalid", "--ports", "22"])
        .output()
        .unwrap();
    assert_error(&o, 2, "host name `no-such-host.invalid` does not resolve");
}

#[test]
fn credentials_are_stored_encrypted_and_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let o = vantage()
        .env("LAB_PASSWORD", "hunter2-but-longer")
        .args([
            "--data-dir",
            d,
            "credentials",
            "add",
            "lab",
            "--kind",
            "password",
            "--username",
            "admin",
            "--password-env",
            "LAB_PASSWORD",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(!text(&o.stdout).contains("hunter2") && !text(&o.stderr).contains("hunter2"));
    let o = run(&["--data-dir", d, "credentials", "list", "--format", "json"]);
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(list[0]["name"], "lab");
    assert_eq!(list[0]["username"], "admin");
    assert!(!text(&o.stdout).contains("hunter2"));
    // The database file holds no plaintext.
    for f in ["vantage.db", "vantage.db-wal"] {
        if let Ok(bytes) = std::fs::read(dir.path().join(f)) {
            assert!(!bytes.windows(7).any(|w| w == b"hunter2"), "{f}");
        }
    }
    let o = run(&[
        "--data-dir",
        d,
        "credentials",
        "add",
        "k",
        "--kind",
        "password",
    ]);
    assert_error(&o, 2, "--key-file, --password-env or --secret-stdin");
    let o = run(&["--data-dir", d, "credentials", "remove", "nope"]);
    assert_error(&o, 2, "no credential named `nope`");
    let o = vantage()
        .env(
            "VANTAGE_MASTER_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        )
        .args(["--data-dir", d, "config", "show"])
        .output()
        .unwrap();
    assert!(
        text(&o.stdout).contains("master_key = \"<redacted>\""),
        "{}",
        text(&o.stdout)
    );
}

#[test]
fn inventory_ssh_and_scan_image_from_the_command_line() {
    use vantage_test_utils::lab::{SshLab, loopback_net};
    use vantage_test_utils::oci::{Entry, layer_tar, write_layout};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let net = loopback_net();
    let lab = SshLab::start(&format!("{net}1"), 2222);
    let key = lab.key("client");
    let target = lab.target("root");

    // One target: the full report, every package.
    let o = vantage()
        .args(["--data-dir", d, "inventory", "ssh", &target, "--key"])
        .arg(&key)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let dpkg = Command::new("dpkg-query")
        .args(["-W", "-f", "${db:Status-Abbrev}\n"])
        .output()
        .unwrap();
    let installed = text(&dpkg.stdout)
        .lines()
        .filter(|l| l.as_bytes().get(1) == Some(&b'i'))
        .count();
    assert_eq!(v["packages"].as_array().unwrap().len(), installed);
    assert_eq!(v["collector"], "ssh");
    assert!(
        v["host_key"]["fingerprint"]
            .as_str()
            .unwrap()
            .starts_with("SHA256:")
    );

    // Several targets, collection only: one CSV row each.
    let o = vantage()
        .args([
            "--data-dir",
            d,
            "inventory",
            "ssh",
            &target,
            &target,
            "--key",
        ])
        .arg(&key)
        .args(["--collect-only", "--format", "csv"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let csv = text(&o.stdout);
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.starts_with("target,asset,os,packages"), "{csv}");

    // A key the server refuses: one error line, exit 2.
    let o = vantage()
        .args(["--data-dir", d, "inventory", "ssh", &target, "--key"])
        .arg(lab.key("wrong"))
        .output()
        .unwrap();
    assert_error(&o, 2, "authentication refused for user `root`");
    // No authentication given.
    let o = run(&["--data-dir", d, "inventory", "ssh", &target]);
    assert_error(
        &o,
        2,
        "give --key FILE, --password-env VAR or --credential NAME",
    );
    // Nothing pinned for a host never seen.
    let o = run(&[
        "--data-dir",
        d,
        "inventory",
        "forget-host-key",
        "root@127.0.0.1:1",
    ]);
    assert_error(&o, 2, "no host key pinned for 127.0.0.1:1");
    let o = run(&["--data-dir", d, "alerts", "--format", "json"]);
    assert!(o.status.success());
    assert_eq!(text(&o.stdout).trim(), "[]");

    // An image layout: the summary names the image id; JSON has the packages.
    let layout = dir.path().join("layout");
    let digest = write_layout(
        &layout,
        "1",
        &[layer_tar(&[
            Entry::File("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n".into()),
            Entry::File(
                "var/lib/dpkg/status",
                "Package: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.2.15-2+b2\n\n".into(),
            ),
        ])],
        true,
    );
    let o = run(&["--data-dir", d, "scan", "image", layout.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains(&digest), "{}", text(&o.stdout));
    let o = run(&[
        "--data-dir",
        d,
        "scan",
        "image",
        layout.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["image"]["config_digest"], digest.as_str());
    assert_eq!(v["packages"][0]["name"], "bash");
    // A hostile image: refused with the entry named.
    let evil = dir.path().join("evil");
    write_layout(
        &evil,
        "1",
        &[layer_tar(&[Entry::Symlink(
            "etc/os-release",
            "../../../../../../etc/shadow",
        )])],
        false,
    );
    let o = run(&["--data-dir", d, "scan", "image", evil.to_str().unwrap()]);
    assert_error(&o, 2, "climbs out of the image");
    let o = run(&["--data-dir", d, "scan", "image", "./no/such/image.tar"]);
    assert_error(&o, 2, "no such file or directory");
    // No os-release in the image: said, and --os supplies it.
    let bare = dir.path().join("bare");
    write_layout(
        &bare,
        "1",
        &[layer_tar(&[Entry::File(
            "var/lib/dpkg/status",
            "Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b2\n\n".into(),
        )])],
        false,
    );
    let o = run(&["--data-dir", d, "scan", "image", bare.to_str().unwrap()]);
    assert_error(&o, 2, "pass --os");
    let o = run(&[
        "--data-dir",
        d,
        "scan",
        "image",
        bare.to_str().unwrap(),
        "--os",
        "debian:12",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
}

/// A free TCP port on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn discover_aws_and_domain_from_the_command_line() {
    use vantage_test_utils::lab::{spawn_proc, wait_listening};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let python = vantage_test_utils::python();
    let bin_dir = Path::new(&python).parent().unwrap().to_path_buf();

    // moto as the acceptance check runs it: three instances behind a group open on 443.
    let port = free_port();
    let _moto = spawn_proc(
        Command::new(bin_dir.join("moto_server")).args([
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ]),
        tempfile::tempdir().unwrap(),
        "moto_server",
    );
    wait_listening(format!("127.0.0.1:{port}").parse().unwrap());
    let endpoint = format!("http://127.0.0.1:{port}");
    let aws_env = [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("HOME", d),
    ];
    let seed = Command::new(&python)
        .envs(aws_env)
        .args(["-c", r#"
import boto3
ec2 = boto3.client("ec2")
sg = ec2.create_security_group(GroupName="web", Description="web")["GroupId"]
ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
r = ec2.run_instances(ImageId="ami-12c6146b", MinCount=3, MaxCount=3, SecurityGroupIds=[sg])
print(" ".join(i["InstanceId"] for i in r["Instances"]))
"#])
        .output()
        .unwrap();
    assert!(seed.status.success(), "{}", text(&seed.stderr));
    let ids = text(&seed.stdout);
    let o = vantage()
        .envs(aws_env)
        .args([
            "--data-dir",
            d,
            "discover",
            "aws",
            "--regions",
            "us-east-1",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let listed: Vec<&str> = v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "instance")
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let mut expected: Vec<&str> = ids.split_whitespace().collect();
    let mut got = listed.clone();
    expected.sort();
    got.sort();
    assert_eq!(got, expected);
    for r in v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "instance")
    {
        assert_eq!(r["exposures"][0]["from_port"], 443, "{r}");
        assert_eq!(r["internet_exposed"], true);
    }
    assert!(
        text(&o.stderr).contains("3 resources (3 internet-exposed)"),
        "{}",
        text(&o.stderr)
    );
    // CSV lists the same instances; a bad region and missing credentials are usage errors.
    let o = vantage()
        .envs(aws_env)
        .args([
            "--data-dir",
            d,
            "discover",
            "aws",
            "--regions",
            "us-east-1",
            "--format",
            "csv",
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(text(&o.stdout).lines().count(), 4, "{}", text(&o.stdout));
    let o = vantage()
        .envs(aws_env)
        .args(["--data-dir", d, "discover", "aws", "--regions", "US East"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("is not an AWS region name"));
    let o = vantage()
        .env("HOME", d)
        .env("AWS_ENDPOINT_URL", &endpoint)
        .args(["--data-dir", d, "discover", "aws", "--regions", "us-east-1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("no AWS credentials"),
        "{}",
        text(&o.stderr)
    );

    // The domain against a real authoritative server on loopback.
    let dns_port = free_port();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../vantage-app/tests/fixtures/dns_server.py"
    );
    let _dns = spawn_proc(
        Command::new(&python).args([script, &dns_port.to_string()]),
        tempfile::tempdir().unwrap(),
        "dns_server.py",
    );
    wait_listening(format!("127.0.0.1:{dns_port}").parse().unwrap());
    let words = dir.path().join("words.txt");
    std::fs::write(&words, "www\nmail\nnothere\n").unwrap();
    let ns = format!("127.0.0.1:{dns_port}");
    let o = vantage()
        .args([
            "--data-dir",
            d,
            "discover",
            "domain",
            "example.test",
            "--nameserver",
            &ns,
        ])
        .args([
            "--dns-port",
            &dns_port.to_string(),
            "--no-crtsh",
            "--no-rdap",
            "--range",
            "127.0.0.0/24",
        ])
        .arg("--wordlist")
        .arg(&words)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<&str> = v["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    for n in [
        "www.example.test",
        "mail.example.test",
        "hidden.example.test",
        "app.example.test",
    ] {
        assert!(names.contains(&n), "{n} missing from {names:?}");
    }
    assert!(
        text(&o.stderr).contains("zone transfer ALLOWED by ns.example.test"),
        "{}",
        text(&o.stderr)
    );
    let o = vantage()
        .args([
            "--data-dir",
            d,
            "discover",
            "domain",
            "example.test",
            "--nameserver",
            "not-an-address",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
}
