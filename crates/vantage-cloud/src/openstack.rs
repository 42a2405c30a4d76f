//! OpenStack: Nova servers, Neutron ports, floating IPs and security groups of one project.
//!
//! Authentication is Keystone v3 (`POST {auth_url}/auth/tokens`; the token comes back in
//! `X-Subject-Token`, the service catalogue in the body) with a password (`OS_USERNAME`,
//! `OS_PASSWORD`, `OS_USER_DOMAIN_NAME`, `OS_PROJECT_NAME` or `OS_PROJECT_ID`,
//! `OS_PROJECT_DOMAIN_NAME`) or an application credential (`OS_APPLICATION_CREDENTIAL_ID`,
//! `OS_APPLICATION_CREDENTIAL_SECRET`); `OS_AUTH_URL`, `OS_REGION_NAME` and `OS_INTERFACE` pick
//! the endpoints — the variables an `openrc` file sets (clouds.yaml is not read). Lists are paged
//! with `limit`/`marker`, following the `*_links` `next` link (same origin only).
//!
//! Exposure: an `ingress` rule of a port's security group whose remote is any address
//! (`0.0.0.0/0`, `::/0`, or neither a prefix nor a remote group), with its protocol and port
//! range; a port with port security disabled passes everything.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::exposure::{self, Exposure};
use crate::http::{Http, check_json, get_json, same_origin};
use crate::{
    CloudError, CloudResource, Listing, Progress, Provider, RegionOutcome, ResourceKind, parse_ip,
    push_unique,
};

/// The environment the credentials come from.
pub type OpenstackEnv = crate::Env;

/// The process's `"OS_"` variables.
pub fn env_from_process() -> OpenstackEnv {
    crate::Env::from_process(&["OS_"])
}

/// What to list.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OpenstackOptions {
    /// Keystone URL (default `OS_AUTH_URL`), e.g. `https://keystone.example:5000/v3`.
    #[serde(default)]
    pub auth_url: Option<String>,
    /// Region (default `OS_REGION_NAME`, else the catalogue's first).
    #[serde(default)]
    pub region: Option<String>,
    /// Endpoint interface (default `OS_INTERFACE`, else `public`).
    #[serde(default)]
    pub interface: Option<String>,
    /// Results per page (default 500).
    #[serde(default)]
    pub page_size: Option<u32>,
}

struct Session {
    token: Zeroizing<String>,
    project: String,
    compute: String,
    network: String,
    region: String,
}

fn auth_body(env: &OpenstackEnv) -> Result<Value, CloudError> {
    if let (Some(id), Some(secret)) = (
        env.var("OS_APPLICATION_CREDENTIAL_ID"),
        env.var("OS_APPLICATION_CREDENTIAL_SECRET"),
    ) {
        // An application credential carries its own project scope.
        return Ok(serde_json::json!({"auth": {"identity": {
            "methods": ["application_credential"],
            "application_credential": {"id": id, "secret": secret}}}}));
    }
    let (Some(user), Some(password)) = (env.var("OS_USERNAME"), env.var("OS_PASSWORD")) else {
        return Err(CloudError::Config(
            "no OpenStack credentials: source an openrc (OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, \
             OS_PROJECT_NAME …) or set OS_APPLICATION_CREDENTIAL_ID/OS_APPLICATION_CREDENTIAL_SECRET"
                .into(),
        ));
    };
    let user_domain = env
        .var("OS_USER_DOMAIN_NAME")
        .or_else(|| env.var("OS_DOMAIN_NAME"))
        .unwrap_or("Default");
    let project = match (env.var("OS_PROJECT_ID"), env.var("OS_PROJECT_NAME")) {
        (Some(id), _) => serde_json::json!({"id": id}),
        (None, Some(name)) => serde_json::json!({"name": name, "domain": {"name":
            env.var("OS_PROJECT_DOMAIN_NAME").unwrap_or(user_domain)}}),
        (None, None) => {
            return Err(CloudError::Config(
                "no OpenStack project: set OS_PROJECT_NAME or OS_PROJECT_ID".into(),
            ));
        }
    };
    Ok(serde_json::json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"name": user_domain}, "password": password}}},
        "scope": {"project": project}}}))
}

async fn login(
    env: &OpenstackEnv,
    opts: &OpenstackOptions,
    http: &Http,
) -> Result<Session, CloudError> {
    let auth_url = opts
        .auth_url
        .clone()
        .or_else(|| env.var("OS_AUTH_URL").map(str::to_string))
        .ok_or_else(|| {
            CloudError::Config("no Keystone URL: set OS_AUTH_URL or --auth-url".into())
        })?;
    let auth_url = auth_url.trim_end_matches('/');
    let url = if auth_url.ends_with("/v3") {
        format!("{auth_url}/auth/tokens")
    } else {
        format!("{auth_url}/v3/auth/tokens")
    };
    let body = Zeroizing::new(auth_body(env)?.to_string());
    let what = "openstack keystone token";
    let answer = http
        .send(
            what,
            || {
                Ok(http
                    .client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.to_string()))
            },
            |_| false,
        )
        .await?;
    let v = check_json(Provider::Openstack, what, &answer)?;
    let token = answer
        .headers
        .get("x-subject-token")
        .and_then(|h| h.to_str().ok())
        .ok_or_else(|| CloudError::malformed(what, "no X-Subject-Token header"))?
        .to_string();
    let project = v["token"]["project"]["id"]
        .as_str()
        .ok_or_else(|| CloudError::malformed(what, "the token has no project scope"))?
        .to_string();
    let interface = opts
        .interface
        .clone()
        .or_else(|| env.var("OS_INTERFACE").map(str::to_string))
        .unwrap_or_else(|| "public".into())
        .trim_end_matches("URL")
        .to_string();
    let wanted_region = opts
        .region
        .clone()
        .or_else(|| env.var("OS_REGION_NAME").map(str::to_string));
    let catalog = v["token"]["catalog"]
        .as_array()
        .ok_or_else(|| CloudError::malformed(what, "no service catalogue"))?;
    let find = |kind: &str| -> Result<(String, String), CloudError> {
        let svc = catalog
            .iter()
            .find(|s| s["type"].as_str() == Some(kind))
            .ok_or_else(|| CloudError::Config(format!("the catalogue has no `{kind}` service")))?;
        svc["endpoints"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| {
                e["interface"].as_str() == Some(interface.as_str())
                    && wanted_region.as_ref().is_none_or(|r| {
                        e["region"].as_str() == Some(r) || e["region_id"].as_str() == Some(r)
                    })
            })
            .and_then(|e| {
                Some((
                    e["url"].as_str()?.trim_end_matches('/').to_string(),
                    e["region"]
                        .as_str()
                        .or(e["region_id"].as_str())
                        .unwrap_or("")
                        .to_string(),
                ))
            })
            .ok_or_else(|| {
                CloudError::Config(format!(
                    "no {interface} `{kind}` endpoint{}",
                    wanted_region
                        .as_ref()
                        .map(|r| format!(" in region {r}"))
                        .unwrap_or_default()
                ))
            })
    };
    let (compute, region) = find("compute")?;
    let (network, _) = find("network")?;
    Ok(Session {
        token: Zeroizing::new(token),
        project,
        compute,
        network,
        region,
    })
}

/// Every element of `key` across the pages of a `limit`/`marker` list.
async fn pages(
    http: &Http,
    s: &Session,
    what: &str,
    first: String,
    key: &str,
) -> Result<Vec<Value>, CloudError> {
    let mut out = Vec::new();
    let mut url = first;
    let links = format!("{key}_links");
    for _ in 0..100_000 {
        let v = get_json(
            http,
            Provider::Openstack,
            what,
            &url,
            ("x-auth-token", s.token.as_str()),
        )
        .await?;
        let items = v[key]
            .as_array()
            .ok_or_else(|| CloudError::malformed(what, format!("no `{key}` array")))?;
        out.extend(items.iter().cloned());
        let next = v[&links]
            .as_array()
            .into_iter()
            .flatten()
            .find(|l| l["rel"].as_str() == Some("next"))
            .and_then(|l| l["href"].as_str());
        match next {
            None => return Ok(out),
            Some(n) if same_origin(&url, n) => url = n.to_string(),
            Some(n) => {
                return Err(CloudError::malformed(
                    what,
                    format!("next link `{n}` leaves the endpoint"),
                ));
            }
        }
    }
    Err(CloudError::malformed(what, "more than 100,000 pages"))
}

fn group_exposures(g: &Value) -> Vec<Exposure> {
    let name = g["name"].as_str().unwrap_or("");
    let id = g["id"].as_str().unwrap_or("");
    let rule_name = if name.is_empty() {
        id.to_string()
    } else {
        format!("{name} ({id})")
    };
    let mut out = Vec::new();
    for r in g["security_group_rules"].as_array().into_iter().flatten() {
        if r["direction"].as_str() != Some("ingress") {
            continue;
        }
        let source = match (
            r["remote_ip_prefix"].as_str(),
            r["remote_group_id"].as_str(),
        ) {
            (Some(p), _) if exposure::is_any_source(p) => p.to_string(),
            (None, None) => {
                if r["ethertype"].as_str() == Some("IPv6") {
                    "::/0".to_string()
                } else {
                    "0.0.0.0/0".to_string()
                }
            }
            _ => continue,
        };
        let proto = r["protocol"].as_str().unwrap_or("all");
        let lo = r["port_range_min"].as_u64().unwrap_or(0).min(65535) as u16;
        let hi = r["port_range_max"].as_u64().unwrap_or(65535).min(65535) as u16;
        out.push(exposure::exposure(proto, lo, hi, &source, &rule_name));
    }
    out
}

/// Lists the project.
pub async fn list(
    env: &OpenstackEnv,
    opts: &OpenstackOptions,
    http: &Arc<Http>,
    progress: Arc<dyn Progress>,
) -> Result<Listing, CloudError> {
    let s = login(env, opts, http).await?;
    let limit = opts.page_size.unwrap_or(500).max(1);
    let result = list_project(http, &s, limit).await;
    let mut listing = Listing::default();
    let outcome = RegionOutcome {
        account: s.project.clone(),
        region: s.region.clone(),
        resources: result.as_ref().map(|r| r.len()).unwrap_or(0),
        error: result.as_ref().err().map(|e| e.to_string()),
    };
    progress.region_done(&outcome);
    listing.regions.push(outcome);
    listing.resources = result?;
    (listing.requests, listing.throttled) = http.counters();
    Ok(listing)
}

async fn list_project(
    http: &Http,
    s: &Session,
    limit: u32,
) -> Result<Vec<CloudResource>, CloudError> {
    let groups = pages(
        http,
        s,
        "neutron security-groups",
        format!("{}/v2.0/security-groups?limit={limit}", s.network),
        "security_groups",
    )
    .await?;
    let by_group: HashMap<String, (String, Vec<Exposure>)> = groups
        .iter()
        .filter_map(|g| {
            Some((
                g["id"].as_str()?.to_string(),
                (
                    g["name"].as_str().unwrap_or("").to_string(),
                    group_exposures(g),
                ),
            ))
        })
        .collect();
    let ports = pages(
        http,
        s,
        "neutron ports",
        format!("{}/v2.0/ports?limit={limit}", s.network),
        "ports",
    )
    .await?;
    let floating = pages(
        http,
        s,
        "neutron floatingips",
        format!("{}/v2.0/floatingips?limit={limit}", s.network),
        "floatingips",
    )
    .await?;
    let servers = pages(
        http,
        s,
        "nova servers",
        format!("{}/servers/detail?limit={limit}", s.compute),
        "servers",
    )
    .await?;
    // Floating IPs by port.
    let mut fip_by_port: HashMap<&str, Vec<&str>> = HashMap::new();
    for f in &floating {
        if let (Some(port), Some(ip)) = (f["port_id"].as_str(), f["floating_ip_address"].as_str()) {
            fip_by_port.entry(port).or_default().push(ip);
        }
    }
    let mut ports_by_device: HashMap<&str, Vec<&Value>> = HashMap::new();
    for p in &ports {
        if let Some(d) = p["device_id"].as_str() {
            ports_by_device.entry(d).or_default().push(p);
        }
    }
    const WHAT: &str = "nova servers";
    let mut out = Vec::new();
    for sv in &servers {
        let id = sv["id"]
            .as_str()
            .ok_or_else(|| CloudError::malformed(WHAT, "a server without id"))?;
        let az = sv["OS-EXT-AZ:availability_zone"].as_str().unwrap_or("");
        let mut r = CloudResource::new(
            Provider::Openstack,
            &s.project,
            &s.region,
            ResourceKind::Instance,
            id,
        );
        r.name = sv["name"].as_str().unwrap_or(id).to_string();
        r.state = sv["status"].as_str().unwrap_or("").to_string();
        r.gone = matches!(r.state.as_str(), "DELETED" | "SOFT_DELETED");
        r.image = sv["image"]["id"].as_str().map(str::to_string);
        if !az.is_empty() {
            r.tags
                .insert("openstack:availability-zone".into(), az.to_string());
        }
        for (k, v) in sv["metadata"].as_object().into_iter().flatten() {
            r.tags
                .insert(k.clone(), v.as_str().unwrap_or_default().to_string());
        }
        for (_, addrs) in sv["addresses"].as_object().into_iter().flatten() {
            for a in addrs.as_array().into_iter().flatten() {
                let Some(ip) = parse_ip(WHAT, a["addr"].as_str().unwrap_or(""))? else {
                    continue;
                };
                if a["OS-EXT-IPS:type"].as_str() == Some("floating") {
                    push_unique(&mut r.public_ips, ip);
                } else {
                    push_unique(&mut r.private_ips, ip);
                }
            }
        }
        for p in ports_by_device.get(id).into_iter().flatten() {
            for f in p["fixed_ips"].as_array().into_iter().flatten() {
                if let Some(ip) = parse_ip("neutron ports", f["ip_address"].as_str().unwrap_or(""))?
                {
                    push_unique(&mut r.private_ips, ip);
                }
            }
            if let Some(pid) = p["id"].as_str() {
                for ip in fip_by_port.get(pid).into_iter().flatten() {
                    if let Some(ip) = parse_ip("neutron floatingips", ip)? {
                        push_unique(&mut r.public_ips, ip);
                    }
                }
            }
            if p["port_security_enabled"].as_bool() == Some(false) {
                r.exposures.push(exposure::exposure(
                    "all",
                    0,
                    65535,
                    "0.0.0.0/0",
                    "port security disabled",
                ));
            }
            for g in p["security_groups"].as_array().into_iter().flatten() {
                if let Some((name, e)) = g.as_str().and_then(|g| by_group.get(g)) {
                    push_unique(&mut r.firewall_groups, name.clone());
                    r.exposures.extend(e.iter().cloned());
                }
            }
        }
        r.settle_exposure();
        out.push(r);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingress_rules_from_anywhere_are_exposures() {
        let g = serde_json::json!({"id": "g1", "name": "web", "security_group_rules": [
            {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 22,
             "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0", "remote_group_id": null},
            {"direction": "ingress", "ethertype": "IPv4", "protocol": null, "port_range_min": null,
             "port_range_max": null, "remote_ip_prefix": null, "remote_group_id": "g1"},
            {"direction": "ingress", "ethertype": "IPv6", "protocol": "udp", "port_range_min": 53,
             "port_range_max": 53, "remote_ip_prefix": null, "remote_group_id": null},
            {"direction": "egress", "ethertype": "IPv4", "protocol": null, "remote_ip_prefix": null}
        ]});
        let e = group_exposures(&g);
        let ports: Vec<String> = e
            .iter()
            .map(|e| format!("{} {}", e.ports(), e.source))
            .collect();
        assert_eq!(ports, ["tcp/22 0.0.0.0/0", "udp/53 ::/0"]);
        assert_eq!(e[0].rule, "web (g1)");
    }
}
