//! `discover kubernetes` against a local server that answers the Kubernetes pod-list API as its
//! reference documents it (`GET /api/v1/pods` and `/api/v1/namespaces/{ns}/pods`, `limit` and
//! `continue` pagination, `PodList` / `Status` bodies) and checks every request's path, query
//! and `Authorization: Bearer` header — no cluster can run here. The images running pods use
//! are queued, then pulled from a real registry (docker-registry, pushed to by skopeo) and
//! scanned: on SQLite and PostgreSQL.

use std::sync::{Arc, Mutex};

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use vantage_app::images::ImageRequest;
use vantage_app::kubernetes::KubeSource;
use vantage_app::{App, Config};
use vantage_domain::JobKind;
use vantage_scan::image::RegistryOptions;
use vantage_test_utils::both_backends;
use vantage_test_utils::lab::loopback_net;
use vantage_test_utils::oci::{Entry, layer_tar, registry, skopeo_copy, write_layout};

const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.test-service-account";

#[derive(Clone, Default)]
struct Api {
    image_ref: String,
    seen: Arc<Mutex<Vec<String>>>,
}

fn pod(ns: &str, name: &str, phase: &str, image: &str, image_id: &str) -> serde_json::Value {
    serde_json::json!({
        "metadata": {"name": name, "namespace": ns, "uid": format!("uid-{name}")},
        "spec": {"containers": [{"name": "app", "image": image}]},
        "status": {
            "phase": phase,
            "containerStatuses": [{"name": "app", "image": image, "imageID": image_id, "ready": true, "restartCount": 0}],
        },
    })
}

fn check(
    headers: &HeaderMap,
    q: &std::collections::HashMap<String, String>,
) -> Result<(), (StatusCode, String)> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if auth != format!("Bearer {TOKEN}") {
        let status = serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "Unauthorized", "reason": "Unauthorized", "code": 401});
        return Err((StatusCode::UNAUTHORIZED, status.to_string()));
    }
    if headers.get("accept").and_then(|v| v.to_str().ok()) != Some("application/json") {
        return Err((
            StatusCode::NOT_ACCEPTABLE,
            "expected Accept: application/json".into(),
        ));
    }
    if q.get("limit").map(String::as_str) != Some("500") {
        return Err((
            StatusCode::BAD_REQUEST,
            format!("expected limit=500, got {q:?}"),
        ));
    }
    Ok(())
}

async fn all_pods(
    State(api): State<Api>,
    headers: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> impl IntoResponse {
    if let Err(e) = check(&headers, &q) {
        return e;
    }
    api.seen
        .lock()
        .unwrap()
        .push(format!("all continue={:?}", q.get("continue")));
    let digest_ref = api.image_ref.clone();
    let body = match q.get("continue").map(String::as_str) {
        None => serde_json::json!({
            "kind": "PodList", "apiVersion": "v1",
            "metadata": {"resourceVersion": "100", "continue": "page-2-token"},
            "items": [
                pod("shop", "web-1", "Running", "lab/debian:1.0", &format!("docker-pullable://{digest_ref}")),
                pod("shop", "web-2", "Running", "lab/debian:1.0", &format!("docker-pullable://{digest_ref}")),
                pod("shop", "job-1", "Succeeded", "busybox:1.36", "docker.io/library/busybox@sha256:0000000000000000000000000000000000000000000000000000000000000000"),
            ],
        }),
        Some("page-2-token") => serde_json::json!({
            "kind": "PodList", "apiVersion": "v1",
            "metadata": {"resourceVersion": "100"},
            "items": [pod("ops", "agent-x", "Running", "lab/debian:1.0", &digest_ref)],
        }),
        Some(other) => return (StatusCode::GONE, format!("unknown continue token {other}")),
    };
    (StatusCode::OK, body.to_string())
}

async fn ns_pods(
    State(api): State<Api>,
    UrlPath(ns): UrlPath<String>,
    headers: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> impl IntoResponse {
    if let Err(e) = check(&headers, &q) {
        return e;
    }
    api.seen.lock().unwrap().push(format!("ns {ns}"));
    let body = serde_json::json!({
        "kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "100"},
        "items": [pod(&ns, "only", "Running", "lab/debian:1.0", &api.image_ref)],
    });
    (StatusCode::OK, body.to_string())
}

fn kubeconfig(dir: &std::path::Path, server: &str, token: &str) -> std::path::PathBuf {
    let path = dir.join("config");
    std::fs::write(&path, format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: lab\nclusters:\n- name: lab-cluster\n  cluster:\n    server: {server}\ncontexts:\n- name: lab\n  context:\n    cluster: lab-cluster\n    user: scanner\n    namespace: default\n- name: other\n  context:\n    cluster: lab-cluster\n    user: bad\nusers:\n- name: scanner\n  user:\n    token: {token}\n- name: bad\n  user:\n    token: wrong\n"
    )).unwrap();
    path
}

both_backends! {
    async fn running_images_are_listed_queued_once_and_scanned_from_the_registry(db) {
        let app = App::from_parts(Config::default(), db.store.clone());
        // A real registry with the image the pods run.
        let work = tempfile::tempdir().unwrap();
        let layout = work.path().join("layout");
        write_layout(&layout, "1.0", &[layer_tar(&[
            Entry::File("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n".into()),
            Entry::File("var/lib/dpkg/status", "Package: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.2.15-2+b2\n\n".into()),
        ])], true);
        let net = loopback_net();
        let (_reg, addr) = registry(&format!("{net}1"), 5000);
        skopeo_copy(&format!("oci:{}:1.0", layout.display()), &format!("docker://{addr}/lab/debian:1.0"));
        let out = std::process::Command::new("skopeo")
            .args(["inspect", "--tls-verify=false", "--format", "{{.Digest}}"])
            .arg(format!("docker://{addr}/lab/debian:1.0")).output().unwrap();
        let digest = String::from_utf8(out.stdout).unwrap().trim().to_string();
        assert!(digest.starts_with("sha256:"), "{digest}");
        let image_ref = format!("{addr}/lab/debian@{digest}");

        // The API server.
        let api = Api { image_ref: image_ref.clone(), ..Default::default() };
        let router = axum::Router::new()
            .route("/api/v1/pods", get(all_pods))
            .route("/api/v1/namespaces/{ns}/pods", get(ns_pods))
            .with_state(api.clone());
        let listener = tokio::net::TcpListener::bind(format!("{net}2:0")).await.unwrap();
        let server = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        let config = kubeconfig(work.path(), &server, TOKEN);

        let src = KubeSource { kubeconfig: Some(config.clone()), ..Default::default() };
        let r = app.discover_kubernetes(&src).await.unwrap();
        // Both pages were read; the finished pod is not running anything.
        assert_eq!(*api.seen.lock().unwrap(), ["all continue=None", "all continue=Some(\"page-2-token\")"]);
        assert_eq!(r.pods, 3);
        assert_eq!(r.images.len(), 1, "{:?}", r.images);
        let img = &r.images[0];
        assert_eq!((img.reference.as_str(), img.image.as_str()), (image_ref.as_str(), "lab/debian:1.0"));
        assert_eq!(img.namespaces, ["shop", "ops"]);
        assert_eq!(img.pods.len(), 3);
        assert!(img.queued);
        // Listing again queues nothing new.
        let again = app.discover_kubernetes(&src).await.unwrap();
        assert_eq!((again.images[0].job_id, again.images[0].queued), (img.job_id, false));
        assert_eq!(db.store.queued_jobs(JobKind::ImageScan).await.unwrap().len(), 1);
        // One namespace: its own path.
        let ns = KubeSource { namespace: Some("shop".into()), ..src.clone() };
        app.discover_kubernetes(&ns).await.unwrap();
        assert_eq!(api.seen.lock().unwrap().last().unwrap(), "ns shop");

        // The queue is worked: the image is pulled by digest and judged.
        let req = ImageRequest { registry: RegistryOptions { insecure: vec![addr.to_string()], ..Default::default() }, ..Default::default() };
        let s = app.scan_queued_images(&req, "test").await.unwrap();
        assert_eq!((s.done, s.failed.len()), (1, 0), "{:?}", s.failed);
        assert_eq!(s.images[0].image.manifest_digest.as_deref(), Some(digest.as_str()));
        assert_eq!(s.images[0].packages.len(), 1);
        assert!(db.store.queued_jobs(JobKind::ImageScan).await.unwrap().is_empty());

        // A token the server refuses: its message, not a panic or an empty list.
        let bad = KubeSource { context: Some("other".into()), ..src.clone() };
        let e = app.discover_kubernetes(&bad).await.unwrap_err();
        assert!(e.to_string().contains("401") && e.to_string().contains("Unauthorized"), "{e}");
        assert!(!e.is_bad_input());
        // A context the kubeconfig does not have; an exec-plugin user.
        let missing = KubeSource { context: Some("nope".into()), ..src.clone() };
        assert!(app.discover_kubernetes(&missing).await.unwrap_err().to_string().contains("no contexts entry named `nope`"));
        let exec = work.path().join("exec");
        std::fs::write(&exec, format!("apiVersion: v1\ncurrent-context: c\nclusters:\n- name: k\n  cluster:\n    server: {server}\ncontexts:\n- name: c\n  context:\n    cluster: k\n    user: u\nusers:\n- name: u\n  user:\n    exec:\n      command: aws\n")).unwrap();
        let e = app.discover_kubernetes(&KubeSource { kubeconfig: Some(exec), ..Default::default() }).await.unwrap_err();
        assert!(e.to_string().contains("exec plugin"), "{e}");
    }
}

fn openssl(args: &[&str], dir: &std::path::Path) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed CA certificate and its key, made by `openssl req -x509`.
fn self_signed_ca(dir: &std::path::Path, key: &str, cert: &str, subject: &str) {
    openssl(
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days",
            "1", "-subj", subject,
        ],
        dir,
    );
}

/// In a pod: the service account's token and CA, over real TLS (socat terminates it with a
/// certificate signed by a CA the test makes; only that CA is trusted).
#[tokio::test]
async fn in_cluster_the_service_account_token_and_ca_are_used_over_tls() {
    let db = vantage_test_utils::TestDb::sqlite().await;
    let app = App::from_parts(Config::default(), db.store.clone());
    let net = loopback_net();
    let (plain_ip, tls_ip) = (format!("{net}2"), format!("{net}3"));
    let work = tempfile::tempdir().unwrap();
    let d = work.path();
    self_signed_ca(d, "ca.key", "ca.crt", "/CN=lab-cluster-ca");
    openssl(
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "api.key",
            "-out",
            "api.csr",
            "-subj",
            "/CN=kube-apiserver",
        ],
        d,
    );
    std::fs::write(d.join("ext"), format!("subjectAltName=IP:{tls_ip}\n")).unwrap();
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "api.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "api.crt",
            "-days",
            "1",
            "-extfile",
            "ext",
        ],
        d,
    );
    // The service account directory of a pod.
    let sa = d.join("serviceaccount");
    std::fs::create_dir_all(&sa).unwrap();
    std::fs::copy(d.join("ca.crt"), sa.join("ca.crt")).unwrap();
    std::fs::write(sa.join("token"), format!("{TOKEN}\n")).unwrap();

    let api = Api { image_ref: "docker.io/library/nginx@sha256:1111111111111111111111111111111111111111111111111111111111111111".into(), ..Default::default() };
    let router = axum::Router::new()
        .route("/api/v1/pods", get(all_pods))
        .with_state(api.clone());
    let listener = tokio::net::TcpListener::bind(format!("{plain_ip}:0"))
        .await
        .unwrap();
    let plain = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let tls_port = 6443;
    let _socat = vantage_test_utils::lab::spawn_proc(
        std::process::Command::new("socat")
            .arg(format!(
                "OPENSSL-LISTEN:{tls_port},bind={tls_ip},reuseaddr,fork,verify=0,cert={},key={}",
                d.join("api.crt").display(),
                d.join("api.key").display()
            ))
            .arg(format!("TCP:{plain}")),
        tempfile::tempdir().unwrap(),
        "socat (install socat)",
    );
    vantage_test_utils::lab::wait_listening(format!("{tls_ip}:{tls_port}").parse().unwrap());

    let src = KubeSource {
        in_cluster: Some(sa.clone()),
        server: Some(format!("https://{tls_ip}:{tls_port}")),
        ..Default::default()
    };
    let r = app.discover_kubernetes(&src).await.unwrap();
    assert_eq!((r.pods, r.images.len()), (3, 1), "{r:?}");
    assert!(
        r.images[0]
            .reference
            .starts_with("docker.io/library/nginx@sha256:")
    );
    // Another CA: the server is not trusted, nothing is listed.
    let other = d.join("other");
    std::fs::create_dir_all(&other).unwrap();
    self_signed_ca(d, "other/ca.key", "other/ca.crt", "/CN=someone-else");
    std::fs::copy(sa.join("token"), other.join("token")).unwrap();
    let e = app
        .discover_kubernetes(&KubeSource {
            in_cluster: Some(other),
            ..src.clone()
        })
        .await
        .unwrap_err();
    assert!(!e.is_bad_input(), "{e}");
    assert_eq!(
        api.seen.lock().unwrap().len(),
        2,
        "the untrusted attempt must not reach the API"
    );
}
