//! GCP: Compute Engine instances of every zone (`instances/aggregatedList`) and the VPC firewall
//! rules (`firewalls/list`), for the projects asked for.
//!
//! Authentication is a service-account key (`--key-file`, else `GOOGLE_APPLICATION_CREDENTIALS`):
//! a JWT (RS256, signed with `aws-lc-rs`) for the `compute.readonly` scope exchanged at the key's
//! `token_uri` (the OAuth2 JWT-bearer grant, RFC 7523); or a ready access token in
//! `CLOUDSDK_AUTH_ACCESS_TOKEN` (what `gcloud auth print-access-token` prints). Lists are paged
//! with `pageToken`/`nextPageToken`; `returnPartialSuccess=true` makes an unreachable zone a
//! reported failure of that zone instead of the whole project's.
//!
//! Exposure: an enabled `INGRESS` rule with `0.0.0.0/0` or `::/0` among its `sourceRanges`, on
//! the instance's network, targeting all instances or one of its network tags or service
//! accounts; its `allowed` protocols and ports. (A `denied` rule of higher precedence is not
//! subtracted; the report names the rule so it can be checked.)

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::exposure::{self, Exposure};
use crate::http::{Http, get_json};
use crate::{
    CloudError, CloudResource, Listing, Progress, Provider, RegionOutcome, ResourceKind, parse_ip,
    push_unique,
};

/// The environment the credentials come from.
pub type GcpEnv = crate::Env;

/// The process's `"GOOGLE_", "CLOUDSDK_", "GCLOUD_PROJECT"` variables.
pub fn env_from_process() -> GcpEnv {
    crate::Env::from_process(&["GOOGLE_", "CLOUDSDK_", "GCLOUD_PROJECT"])
}

/// What to list.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GcpOptions {
    /// Projects (empty: the key's `project_id`, else `GOOGLE_CLOUD_PROJECT`).
    #[serde(default)]
    pub projects: Vec<String>,
    /// Service-account key file (default `GOOGLE_APPLICATION_CREDENTIALS`).
    #[serde(default)]
    pub key_file: Option<String>,
    /// Compute API endpoint (default `https://compute.googleapis.com`).
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Results per page (1–500; default 500).
    #[serde(default)]
    pub page_size: Option<u32>,
}

#[derive(Deserialize)]
struct ServiceAccountKey {
    #[serde(rename = "type")]
    kind: String,
    client_email: String,
    private_key: String,
    #[serde(default)]
    private_key_id: String,
    #[serde(default)]
    token_uri: Option<String>,
    #[serde(default)]
    project_id: Option<String>,
}

fn b64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A signed JWT assertion for the service account.
fn assertion(key: &ServiceAccountKey, token_uri: &str, now: i64) -> Result<String, CloudError> {
    use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
    use base64::Engine;
    let pem: String = key
        .private_key
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(pem.trim())
            .map_err(|e| {
                CloudError::Config(format!("service-account private_key: not PEM: {e}"))
            })?,
    );
    let pair = RsaKeyPair::from_pkcs8(&der).map_err(|e| {
        CloudError::Config(format!(
            "service-account private_key: not an RSA PKCS#8 key: {e}"
        ))
    })?;
    let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": key.private_key_id});
    let claims = serde_json::json!({
        "iss": key.client_email,
        "scope": "https://www.googleapis.com/auth/compute.readonly",
        "aud": token_uri,
        "iat": now,
        "exp": now + 3600,
    });
    let signing_input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let mut sig = vec![0u8; pair.public_modulus_len()];
    pair.sign(
        &RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        signing_input.as_bytes(),
        &mut sig,
    )
    .map_err(|_| CloudError::Config("service-account key: signing failed".into()))?;
    Ok(format!("{signing_input}.{}", b64url(&sig)))
}

async fn access_token(
    env: &GcpEnv,
    opts: &GcpOptions,
    http: &Http,
) -> Result<(Zeroizing<String>, Option<String>), CloudError> {
    let key_file = opts.key_file.clone().or_else(|| {
        env.var("GOOGLE_APPLICATION_CREDENTIALS")
            .map(str::to_string)
    });
    let Some(path) = key_file else {
        if let Some(t) = env.var("CLOUDSDK_AUTH_ACCESS_TOKEN") {
            return Ok((Zeroizing::new(t.to_string()), None));
        }
        return Err(CloudError::Config(
            "no GCP credentials: give --key-file or GOOGLE_APPLICATION_CREDENTIALS (a service-account \
             JSON key with roles/compute.viewer), or CLOUDSDK_AUTH_ACCESS_TOKEN"
                .into(),
        ));
    };
    let text = Zeroizing::new(
        std::fs::read_to_string(&path)
            .map_err(|e| CloudError::Config(format!("cannot read {path}: {e}")))?,
    );
    let key: ServiceAccountKey = serde_json::from_str(&text)
        .map_err(|e| CloudError::Config(format!("{path}: not a service-account key: {e}")))?;
    if key.kind != "service_account" {
        return Err(CloudError::Config(format!(
            "{path}: type `{}` is not supported (only service_account keys)",
            key.kind
        )));
    }
    let token_uri = key
        .token_uri
        .clone()
        .unwrap_or_else(|| "https://oauth2.googleapis.com/token".into());
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let jwt = Zeroizing::new(assertion(&key, &token_uri, now)?);
    let body = Zeroizing::new(
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
            .append_pair("assertion", &jwt)
            .finish(),
    );
    let token =
        crate::http::oauth_token(http, Provider::Gcp, "gcp token", &token_uri, &body).await?;
    Ok((token, key.project_id))
}

/// Every item of a paged list (`items` holds an array, or a map for aggregated lists).
async fn pages(
    http: &Http,
    what: &str,
    url: &str,
    bearer: &str,
    page_size: u32,
    mut each: impl FnMut(&Value) -> Result<(), CloudError>,
) -> Result<(), CloudError> {
    let mut token: Option<String> = None;
    for _ in 0..100_000 {
        let mut u = url::Url::parse(url).map_err(|e| CloudError::Config(format!("{url}: {e}")))?;
        {
            let mut q = u.query_pairs_mut();
            q.append_pair("maxResults", &page_size.to_string());
            if let Some(t) = &token {
                q.append_pair("pageToken", t);
            }
        }
        let v = get_json(
            http,
            Provider::Gcp,
            what,
            u.as_str(),
            ("authorization", bearer),
        )
        .await?;
        each(&v)?;
        token = v["nextPageToken"]
            .as_str()
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        if token.is_none() {
            return Ok(());
        }
    }
    Err(CloudError::malformed(what, "more than 100,000 pages"))
}

fn last_segment(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

struct Firewall {
    network: String,
    tags: Vec<String>,
    accounts: Vec<String>,
    exposures: Vec<Exposure>,
}

fn firewall(v: &Value) -> Option<Firewall> {
    if v["disabled"].as_bool() == Some(true)
        || v["direction"].as_str().is_some_and(|d| d != "INGRESS")
    {
        return None;
    }
    let source = v["sourceRanges"]
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .find(|s| exposure::is_any_source(s))?
        .to_string();
    let name = v["name"].as_str().unwrap_or("firewall");
    let mut exposures = Vec::new();
    for a in v["allowed"].as_array().into_iter().flatten() {
        let proto = a["IPProtocol"].as_str().unwrap_or("all");
        let ports: Vec<&str> = a["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if ports.is_empty() {
            exposures.push(exposure::exposure(proto, 0, 65535, &source, name));
        }
        for p in ports {
            if let Some((lo, hi)) = exposure::port_range(p) {
                exposures.push(exposure::exposure(proto, lo, hi, &source, name));
            }
        }
    }
    let strs = |k: &str| -> Vec<String> {
        v[k].as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    };
    Some(Firewall {
        network: last_segment(v["network"].as_str().unwrap_or("default")).to_string(),
        tags: strs("targetTags"),
        accounts: strs("targetServiceAccounts"),
        exposures,
    })
}

/// Lists every project.
pub async fn list(
    env: &GcpEnv,
    opts: &GcpOptions,
    http: &Arc<Http>,
    progress: Arc<dyn Progress>,
) -> Result<Listing, CloudError> {
    let (token, key_project) = access_token(env, opts, http).await?;
    let projects: Vec<String> = if !opts.projects.is_empty() {
        opts.projects.clone()
    } else if let Some(p) = key_project
        .or_else(|| env.var("GOOGLE_CLOUD_PROJECT").map(str::to_string))
        .or_else(|| env.var("GCLOUD_PROJECT").map(str::to_string))
    {
        vec![p]
    } else {
        return Err(CloudError::Config(
            "no GCP project: give --project (or GOOGLE_CLOUD_PROJECT)".into(),
        ));
    };
    let base = opts
        .endpoint
        .clone()
        .unwrap_or_else(|| "https://compute.googleapis.com".into())
        .trim_end_matches('/')
        .to_string();
    let bearer = format!("Bearer {}", token.as_str());
    let page_size = opts.page_size.unwrap_or(500).clamp(1, 500);
    let mut listing = Listing::default();
    let mut first_error = None;
    let mut ok = 0;
    for project in projects {
        match list_project(http, &base, &bearer, &project, page_size).await {
            Ok((resources, unreachable)) => {
                ok += 1;
                let mut zones: HashMap<String, usize> = HashMap::new();
                for r in &resources {
                    *zones.entry(r.region.clone()).or_default() += 1;
                }
                let mut outcomes: Vec<RegionOutcome> = if unreachable.is_empty() {
                    vec![RegionOutcome {
                        account: project.clone(),
                        region: "*".into(),
                        resources: resources.len(),
                        error: None,
                    }]
                } else {
                    // Only the zones that answered are complete.
                    zones
                        .iter()
                        .map(|(z, n)| RegionOutcome {
                            account: project.clone(),
                            region: z.clone(),
                            resources: *n,
                            error: None,
                        })
                        .chain(unreachable.iter().map(|z| RegionOutcome {
                            account: project.clone(),
                            region: z.clone(),
                            resources: 0,
                            error: Some(
                                "unreachable (the API listed the zone as unreachable)".into(),
                            ),
                        }))
                        .collect()
                };
                outcomes.sort_by(|a, b| a.region.cmp(&b.region));
                for o in &outcomes {
                    progress.region_done(o);
                }
                listing.regions.extend(outcomes);
                listing.resources.extend(resources);
            }
            Err(e) => {
                let o = RegionOutcome {
                    account: project,
                    region: "*".into(),
                    resources: 0,
                    error: Some(e.to_string()),
                };
                progress.region_done(&o);
                listing.regions.push(o);
                first_error.get_or_insert(e);
            }
        }
    }
    if ok == 0
        && let Some(e) = first_error
    {
        return Err(e);
    }
    (listing.requests, listing.throttled) = http.counters();
    Ok(listing)
}

async fn list_project(
    http: &Http,
    base: &str,
    bearer: &str,
    project: &str,
    page_size: u32,
) -> Result<(Vec<CloudResource>, Vec<String>), CloudError> {
    let p = url::form_urlencoded::byte_serialize(project.as_bytes()).collect::<String>();
    let mut firewalls = Vec::new();
    pages(
        http,
        "gcp firewalls",
        &format!("{base}/compute/v1/projects/{p}/global/firewalls"),
        bearer,
        page_size,
        |v| {
            firewalls.extend(
                v["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(firewall),
            );
            Ok(())
        },
    )
    .await?;
    let mut out = Vec::new();
    let mut unreachable: Vec<String> = Vec::new();
    let mut error = None;
    pages(
        http,
        "gcp instances aggregatedList",
        &format!("{base}/compute/v1/projects/{p}/aggregated/instances?returnPartialSuccess=true"),
        bearer,
        page_size,
        |v| {
            for u in v["unreachables"].as_array().into_iter().flatten() {
                if let Some(z) = u.as_str() {
                    push_unique(&mut unreachable, last_segment(z).to_string());
                }
            }
            for (_, scoped) in v["items"].as_object().into_iter().flatten() {
                for i in scoped["instances"].as_array().into_iter().flatten() {
                    match instance(i, project, &firewalls) {
                        Ok(r) => out.push(r),
                        Err(e) => {
                            error.get_or_insert(e);
                        }
                    }
                }
            }
            Ok(())
        },
    )
    .await?;
    if let Some(e) = error {
        return Err(e);
    }
    Ok((out, unreachable))
}

fn instance(i: &Value, project: &str, firewalls: &[Firewall]) -> Result<CloudResource, CloudError> {
    const WHAT: &str = "gcp instances aggregatedList";
    let id = i["id"]
        .as_str()
        .map(str::to_string)
        .or_else(|| i["id"].as_u64().map(|n| n.to_string()))
        .ok_or_else(|| CloudError::malformed(WHAT, "an instance without id"))?;
    let zone = last_segment(i["zone"].as_str().unwrap_or(""));
    let mut r = CloudResource::new(Provider::Gcp, project, zone, ResourceKind::Instance, &id);
    r.name = i["name"].as_str().unwrap_or(&id).to_string();
    r.state = i["status"].as_str().unwrap_or("").to_string();
    for (k, v) in i["labels"].as_object().into_iter().flatten() {
        r.tags
            .insert(k.clone(), v.as_str().unwrap_or_default().to_string());
    }
    let net_tags: Vec<String> = i["tags"]["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    let accounts: Vec<String> = i["serviceAccounts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["email"].as_str().map(str::to_string))
        .collect();
    let mut networks = Vec::new();
    for nic in i["networkInterfaces"].as_array().into_iter().flatten() {
        networks.push(last_segment(nic["network"].as_str().unwrap_or("default")).to_string());
        if let Some(ip) = parse_ip(WHAT, nic["networkIP"].as_str().unwrap_or(""))? {
            push_unique(&mut r.private_ips, ip);
        }
        for ac in nic["accessConfigs"].as_array().into_iter().flatten() {
            if let Some(ip) = parse_ip(WHAT, ac["natIP"].as_str().unwrap_or(""))? {
                push_unique(&mut r.public_ips, ip);
            }
        }
        for ac in nic["ipv6AccessConfigs"].as_array().into_iter().flatten() {
            if let Some(ip) = parse_ip(WHAT, ac["externalIpv6"].as_str().unwrap_or(""))? {
                push_unique(&mut r.public_ips, ip);
            }
        }
    }
    for f in firewalls {
        let applies = networks.contains(&f.network)
            && ((f.tags.is_empty() && f.accounts.is_empty())
                || f.tags.iter().any(|t| net_tags.contains(t))
                || f.accounts.iter().any(|a| accounts.contains(a)));
        if applies {
            r.exposures.extend(f.exposures.iter().cloned());
        }
    }
    r.firewall_groups = net_tags;
    r.settle_exposure();
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firewalls_apply_by_network_and_target_tag() {
        let fws: Vec<Firewall> = [
            serde_json::json!({"name": "allow-web", "network": "projects/p/global/networks/default",
              "direction": "INGRESS", "sourceRanges": ["0.0.0.0/0"], "targetTags": ["web"],
              "allowed": [{"IPProtocol": "tcp", "ports": ["80", "443"]}]}),
            serde_json::json!({"name": "allow-internal", "network": "projects/p/global/networks/default",
              "direction": "INGRESS", "sourceRanges": ["10.128.0.0/9"], "allowed": [{"IPProtocol": "all"}]}),
            serde_json::json!({"name": "off", "network": "projects/p/global/networks/default", "disabled": true,
              "direction": "INGRESS", "sourceRanges": ["0.0.0.0/0"], "allowed": [{"IPProtocol": "all"}]}),
            serde_json::json!({"name": "other-net", "network": "projects/p/global/networks/lab",
              "direction": "INGRESS", "sourceRanges": ["0.0.0.0/0"], "allowed": [{"IPProtocol": "udp"}]}),
        ]
        .iter()
        .filter_map(firewall)
        .collect();
        let i = serde_json::json!({"id": "123", "name": "web-1", "zone": "projects/p/zones/europe-west1-b",
          "status": "RUNNING", "tags": {"items": ["web"]},
          "networkInterfaces": [{"network": "projects/p/global/networks/default", "networkIP": "10.132.0.2",
            "accessConfigs": [{"natIP": "198.51.100.7"}]}]});
        let r = instance(&i, "p", &fws).unwrap();
        let ports: Vec<String> = r.exposures.iter().map(|e| e.ports()).collect();
        assert_eq!(ports, ["tcp/80", "tcp/443"]);
        assert!(r.internet_exposed);
        assert_eq!(r.region, "europe-west1-b");
    }
}
