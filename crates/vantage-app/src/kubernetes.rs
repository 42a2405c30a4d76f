//! Kubernetes: the images pods actually run, listed through the API server (`GET /api/v1/pods`,
//! paginated with `limit`/`continue`) with a kubeconfig (bearer token, token file, client
//! certificate, or basic auth; the cluster's CA) or the in-cluster service account, then queued
//! as image-scan jobs (`vantage scan image --queued` runs them). The image queued is the digest
//! the kubelet reports (`imageID`), so what is scanned is what runs, not what a tag points to now.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use time::OffsetDateTime;
use vantage_domain::{JobKind, JobStatus};
use zeroize::Zeroizing;

use crate::app::App;
use crate::error::AppError;
use crate::images::{ImageInventoryReport, ImageRequest};

/// Where the cluster is and how to log in.
#[derive(Debug, Clone, Default)]
pub struct KubeSource {
    /// A kubeconfig file (default: $KUBECONFIG's first file, else ~/.kube/config).
    pub kubeconfig: Option<PathBuf>,
    /// The context (default: current-context).
    pub context: Option<String>,
    /// Use the pod's service account instead (token and CA in this directory; default
    /// /var/run/secrets/kubernetes.io/serviceaccount; server from KUBERNETES_SERVICE_HOST/PORT).
    pub in_cluster: Option<PathBuf>,
    /// Only this namespace (default: all).
    pub namespace: Option<String>,
    /// The API server's URL instead of the kubeconfig's or the pod environment's (a proxy, a
    /// port-forward).
    pub server: Option<String>,
}

enum Auth {
    None,
    Bearer(Zeroizing<String>),
    Basic(String, Zeroizing<String>),
}

struct Cluster {
    server: String,
    auth: Auth,
    ca: Option<Vec<u8>>,
    identity: Option<Zeroizing<Vec<u8>>>,
    insecure: bool,
}

/// One image running in the cluster.
#[derive(Debug, Clone, Serialize)]
pub struct RunningImage {
    /// What is queued for scanning: `repo@sha256:…` when the kubelet reports the digest, else
    /// the pod spec's image.
    pub reference: String,
    /// The pod spec's image (`nginx:1.25`).
    pub image: String,
    /// Namespaces running it.
    pub namespaces: Vec<String>,
    /// Pods running it (`namespace/name`).
    pub pods: Vec<String>,
    /// The image-scan job, and whether this listing queued it (false: already queued).
    pub job_id: i64,
    /// Newly queued.
    pub queued: bool,
}

/// What `vantage discover kubernetes` found.
#[derive(Debug, Clone, Serialize)]
pub struct KubeReport {
    /// The API server.
    pub server: String,
    /// Running pods seen.
    pub pods: usize,
    /// Distinct images, by reference.
    pub images: Vec<RunningImage>,
}

/// What `vantage scan image --queued` did.
#[derive(Debug, Clone, Serialize)]
pub struct QueuedScanReport {
    /// Images scanned.
    pub done: usize,
    /// Images that failed, with why.
    pub failed: Vec<(String, String)>,
    /// The reports of the scanned images.
    pub images: Vec<ImageInventoryReport>,
}

fn yaml_err(path: &Path, e: impl std::fmt::Display) -> AppError {
    AppError::Invalid(format!("kubeconfig {}: {e}", path.display()))
}

fn b64(s: &str, path: &Path, field: &str) -> Result<Vec<u8>, AppError> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|e| yaml_err(path, format!("{field}: not base64: {e}")))
}

/// Reads a file named by a kubeconfig (relative paths are relative to the kubeconfig).
fn read_rel(base: &Path, file: &str) -> Result<Vec<u8>, AppError> {
    let p = Path::new(file);
    let p = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.parent().unwrap_or(Path::new(".")).join(p)
    };
    std::fs::read(&p).map_err(|e| AppError::Invalid(format!("cannot read {}: {e}", p.display())))
}

fn default_kubeconfig() -> Option<PathBuf> {
    if let Ok(list) = std::env::var("KUBECONFIG")
        && let Some(first) = list
            .split(':')
            .find(|p| !p.is_empty() && Path::new(p).exists())
    {
        return Some(PathBuf::from(first));
    }
    std::env::var("HOME")
        .ok()
        .map(|h| Path::new(&h).join(".kube/config"))
        .filter(|p| p.exists())
}

fn from_kubeconfig(path: &Path, context: Option<&str>) -> Result<Cluster, AppError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        AppError::Invalid(format!("cannot read kubeconfig {}: {e}", path.display()))
    })?;
    let doc: serde_json::Value = serde_yaml_ng::from_str(&text).map_err(|e| yaml_err(path, e))?;
    let named = |list: &str, name: &str| -> Result<serde_json::Value, AppError> {
        doc[list]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["name"].as_str() == Some(name))
            .cloned()
            .ok_or_else(|| yaml_err(path, format!("no {list} entry named `{name}`")))
    };
    let ctx_name = match context {
        Some(c) => c.to_string(),
        None => doc["current-context"]
            .as_str()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| yaml_err(path, "no current-context; pass --context"))?
            .to_string(),
    };
    let ctx = named("contexts", &ctx_name)?;
    let ctx = &ctx["context"];
    let cluster = named(
        "clusters",
        ctx["cluster"]
            .as_str()
            .ok_or_else(|| yaml_err(path, format!("context `{ctx_name}` names no cluster")))?,
    )?;
    let cluster = &cluster["cluster"];
    let server = cluster["server"]
        .as_str()
        .ok_or_else(|| yaml_err(path, "the cluster has no server"))?
        .trim_end_matches('/')
        .to_string();
    let ca = match (
        cluster["certificate-authority-data"].as_str(),
        cluster["certificate-authority"].as_str(),
    ) {
        (Some(d), _) => Some(b64(d, path, "certificate-authority-data")?),
        (None, Some(f)) => Some(read_rel(path, f)?),
        _ => None,
    };
    let insecure = cluster["insecure-skip-tls-verify"]
        .as_bool()
        .unwrap_or(false);
    let user = match ctx["user"].as_str() {
        Some(u) => named("users", u)?["user"].clone(),
        None => serde_json::Value::Null,
    };
    if user["exec"].is_object() || user["auth-provider"].is_object() {
        return Err(yaml_err(
            path,
            "the user logs in through an exec plugin or auth provider (EKS, GKE, AKS CLIs), which Vantage does not run: use a service-account token (kubectl create token …) in the kubeconfig",
        ));
    }
    let auth = if let Some(t) = user["token"].as_str() {
        Auth::Bearer(Zeroizing::new(t.trim().to_string()))
    } else if let Some(f) = user["tokenFile"].as_str() {
        let t = read_rel(path, f)?;
        Auth::Bearer(Zeroizing::new(
            String::from_utf8_lossy(&t).trim().to_string(),
        ))
    } else if let (Some(u), Some(p)) = (user["username"].as_str(), user["password"].as_str()) {
        Auth::Basic(u.to_string(), Zeroizing::new(p.to_string()))
    } else {
        Auth::None
    };
    let cert = match (
        user["client-certificate-data"].as_str(),
        user["client-certificate"].as_str(),
    ) {
        (Some(d), _) => Some(b64(d, path, "client-certificate-data")?),
        (None, Some(f)) => Some(read_rel(path, f)?),
        _ => None,
    };
    let key = match (
        user["client-key-data"].as_str(),
        user["client-key"].as_str(),
    ) {
        (Some(d), _) => Some(b64(d, path, "client-key-data")?),
        (None, Some(f)) => Some(read_rel(path, f)?),
        _ => None,
    };
    let identity = match (cert, key) {
        (Some(mut c), Some(k)) => {
            c.push(b'\n');
            c.extend_from_slice(&k);
            Some(Zeroizing::new(c))
        }
        (None, None) => None,
        _ => {
            return Err(yaml_err(
                path,
                "a client certificate needs both its certificate and its key",
            ));
        }
    };
    Ok(Cluster {
        server,
        auth,
        ca,
        identity,
        insecure,
    })
}

fn in_cluster(dir: &Path, server: Option<&str>) -> Result<Cluster, AppError> {
    let server = match server {
        Some(s) => s.to_string(),
        None => {
            let host = std::env::var("KUBERNETES_SERVICE_HOST").map_err(|_| {
                AppError::Invalid(
                    "in-cluster: KUBERNETES_SERVICE_HOST is not set (not running in a pod?)".into(),
                )
            })?;
            let port = std::env::var("KUBERNETES_SERVICE_PORT").unwrap_or_else(|_| "443".into());
            if host.contains(':') {
                format!("https://[{host}]:{port}")
            } else {
                format!("https://{host}:{port}")
            }
        }
    };
    let token = std::fs::read_to_string(dir.join("token")).map_err(|e| {
        AppError::Invalid(format!(
            "in-cluster: cannot read {}: {e}",
            dir.join("token").display()
        ))
    })?;
    Ok(Cluster {
        server,
        auth: Auth::Bearer(Zeroizing::new(token.trim().to_string())),
        ca: std::fs::read(dir.join("ca.crt")).ok(),
        identity: None,
        insecure: false,
    })
}

impl Cluster {
    fn client(&self) -> Result<reqwest::Client, AppError> {
        let mut b = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .connect_timeout(std::time::Duration::from_secs(10));
        if let Some(ca) = &self.ca {
            for c in reqwest::Certificate::from_pem_bundle(ca)
                .map_err(|e| AppError::Invalid(format!("the cluster's CA certificate: {e}")))?
            {
                b = b.add_root_certificate(c);
            }
        }
        if let Some(id) = &self.identity {
            b = b.identity(
                reqwest::Identity::from_pem(id)
                    .map_err(|e| AppError::Invalid(format!("the client certificate: {e}")))?,
            );
        }
        if self.insecure {
            b = b.danger_accept_invalid_certs(true);
        }
        b.build()
            .map_err(|e| AppError::Invalid(format!("HTTP client: {e}")))
    }
}

/// The pod list of one page: (namespace/name, spec image, image id) per running container.
fn running_containers(page: &serde_json::Value) -> Vec<(String, String, String, Option<String>)> {
    let mut out = Vec::new();
    for pod in page["items"].as_array().into_iter().flatten() {
        if pod["status"]["phase"].as_str() != Some("Running") {
            continue;
        }
        let ns = pod["metadata"]["namespace"].as_str().unwrap_or("default");
        let name = pod["metadata"]["name"].as_str().unwrap_or("?");
        for list in [
            "containerStatuses",
            "initContainerStatuses",
            "ephemeralContainerStatuses",
        ] {
            for c in pod["status"][list].as_array().into_iter().flatten() {
                let Some(image) = c["image"].as_str() else {
                    continue;
                };
                let id = c["imageID"]
                    .as_str()
                    .map(|i| i.trim_start_matches("docker-pullable://").to_string())
                    .filter(|i| i.contains('@'));
                out.push((ns.to_string(), name.to_string(), image.to_string(), id));
            }
        }
    }
    out
}

impl App {
    /// Lists the images running pods use and queues each for an image scan.
    pub async fn discover_kubernetes(&self, src: &KubeSource) -> Result<KubeReport, AppError> {
        let mut cluster = match &src.in_cluster {
            Some(dir) => in_cluster(dir, src.server.as_deref())?,
            None => {
                let path = src
                    .kubeconfig
                    .clone()
                    .or_else(default_kubeconfig)
                    .ok_or_else(|| {
                        AppError::Invalid(
                            "no kubeconfig: pass --kubeconfig, set KUBECONFIG, or use --in-cluster"
                                .into(),
                        )
                    })?;
                from_kubeconfig(&path, src.context.as_deref())?
            }
        };
        if let Some(server) = &src.server {
            cluster.server = server.trim_end_matches('/').to_string();
        }
        let client = cluster.client()?;
        let base = match &src.namespace {
            Some(ns) => format!("{}/api/v1/namespaces/{ns}/pods", cluster.server),
            None => format!("{}/api/v1/pods", cluster.server),
        };
        let mut cont: Option<String> = None;
        let mut pods = std::collections::BTreeSet::new();
        let mut images: BTreeMap<String, RunningImage> = BTreeMap::new();
        for page_no in 1.. {
            if page_no > 10_000 {
                return Err(AppError::Invalid(format!(
                    "{}: the pod list never ends",
                    cluster.server
                )));
            }
            let mut req = client
                .get(&base)
                .header("Accept", "application/json")
                .query(&[("limit", "500")]);
            if let Some(c) = &cont {
                req = req.query(&[("continue", c.as_str())]);
            }
            req = match &cluster.auth {
                Auth::Bearer(t) => req.bearer_auth(t.as_str()),
                Auth::Basic(u, p) => req.basic_auth(u, Some(p.as_str())),
                Auth::None => req,
            };
            let resp = req
                .send()
                .await
                .map_err(|e| AppError::Unavailable(format!("{}: {e}", cluster.server)))?;
            let status = resp.status();
            let body = resp
                .bytes()
                .await
                .map_err(|e| AppError::Unavailable(format!("{}: {e}", cluster.server)))?;
            if !status.is_success() {
                let why = serde_json::from_slice::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v["message"].as_str().map(String::from))
                    .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(300).collect());
                return Err(AppError::Unavailable(format!(
                    "{}: listing pods: HTTP {status}: {why}",
                    cluster.server
                )));
            }
            let page: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
                AppError::Invalid(format!("{}: the pod list is not JSON: {e}", cluster.server))
            })?;
            if page["kind"].as_str().is_some_and(|k| k != "PodList") {
                return Err(AppError::Invalid(format!(
                    "{}: expected a PodList, got {}",
                    cluster.server, page["kind"]
                )));
            }
            for (ns, name, image, id) in running_containers(&page) {
                let pod = format!("{ns}/{name}");
                pods.insert(pod.clone());
                let reference = id.unwrap_or_else(|| image.clone());
                let e = images
                    .entry(reference.clone())
                    .or_insert_with(|| RunningImage {
                        reference,
                        image,
                        namespaces: vec![],
                        pods: vec![],
                        job_id: 0,
                        queued: false,
                    });
                if !e.namespaces.contains(&ns) {
                    e.namespaces.push(ns);
                }
                if !e.pods.contains(&pod) {
                    e.pods.push(pod);
                }
            }
            cont = page["metadata"]["continue"]
                .as_str()
                .filter(|c| !c.is_empty())
                .map(String::from);
            if cont.is_none() {
                break;
            }
        }
        let now = OffsetDateTime::now_utc();
        for img in images.values_mut() {
            let payload =
                serde_json::json!({"reference": img.reference, "source": "kubernetes"}).to_string();
            let (id, new) = self
                .store
                .enqueue_job(JobKind::ImageScan, None, &payload, now)
                .await?;
            img.job_id = id;
            img.queued = new;
        }
        Ok(KubeReport {
            server: cluster.server,
            pods: pods.len(),
            images: images.into_values().collect(),
        })
    }

    /// Runs every queued image-scan job (one at a time; each job claimed so two runners never
    /// scan the same image).
    pub async fn scan_queued_images(
        &self,
        req: &ImageRequest,
        worker: &str,
    ) -> Result<QueuedScanReport, AppError> {
        let mut report = QueuedScanReport {
            done: 0,
            failed: vec![],
            images: vec![],
        };
        while let Some((job, payload)) = self
            .store
            .claim_job(JobKind::ImageScan, worker, OffsetDateTime::now_utc())
            .await?
        {
            let reference = serde_json::from_str::<serde_json::Value>(&payload)
                .ok()
                .and_then(|v| v["reference"].as_str().map(String::from))
                .unwrap_or_default();
            self.store
                .job_log(job, "info", &format!("scanning {reference}"))
                .await?;
            let r = if reference.is_empty() {
                Err(AppError::Invalid(format!(
                    "job {job}: no image reference in {payload}"
                )))
            } else {
                self.scan_image(&reference, req).await
            };
            let now = OffsetDateTime::now_utc();
            match r {
                Ok(r) => {
                    self.store
                        .finish_job(job, JobStatus::Done, None, now)
                        .await?;
                    report.done += 1;
                    report.images.push(r);
                }
                Err(e) => {
                    let msg = e.to_string();
                    self.store.job_log(job, "error", &msg).await?;
                    self.store
                        .finish_job(job, JobStatus::Failed, Some(&msg), now)
                        .await?;
                    report.failed.push((reference, msg));
                }
            }
        }
        Ok(report)
    }
}
