//! Azure: virtual machines, their network interfaces, public IP addresses and network security
//! groups, through Azure Resource Manager, for every enabled subscription or the ones asked for.
//!
//! Authentication is Entra ID's OAuth2 client-credentials flow (`POST
//! {authority}/{tenant}/oauth2/v2.0/token` with `scope={arm}/.default`) from
//! `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` and `AZURE_CLIENT_SECRET` (the variables Azure's own
//! `EnvironmentCredential` reads; `AZURE_AUTHORITY_HOST` for sovereign clouds), or a ready token
//! in `AZURE_ACCESS_TOKEN`. Lists are followed through `nextLink` (same origin only: the token
//! is never sent elsewhere). API versions: subscriptions 2022-12-01, compute 2024-07-01, network
//! 2024-05-01.
//!
//! Exposure: an inbound `Allow` rule whose source is `*`, `Internet`, `Any`, `0.0.0.0/0` or
//! `::/0`, unless a `Deny` rule of higher precedence (lower priority number) from any source
//! covers the same ports; when a NIC and its subnet both have an NSG, a port must pass both; a
//! NIC with no NSG at all passes everything.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::exposure::{self, Exposure};
use crate::http::{Http, get_json, same_origin};
use crate::{
    CloudError, CloudResource, Listing, Progress, Provider, RegionOutcome, ResourceKind, parse_ip,
    push_unique,
};

const API_SUBSCRIPTIONS: &str = "2022-12-01";
const API_COMPUTE: &str = "2024-07-01";
const API_NETWORK: &str = "2024-05-01";

/// The environment the credentials come from.
pub type AzureEnv = crate::Env;

/// The process's `"AZURE_"` variables.
pub fn env_from_process() -> AzureEnv {
    crate::Env::from_process(&["AZURE_"])
}

/// What to list.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AzureOptions {
    /// Subscription ids (empty: `AZURE_SUBSCRIPTION_ID`, else every enabled subscription).
    #[serde(default)]
    pub subscriptions: Vec<String>,
    /// Resource Manager endpoint (default `https://management.azure.com`).
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Entra ID authority (default `AZURE_AUTHORITY_HOST`, else
    /// `https://login.microsoftonline.com`).
    #[serde(default)]
    pub authority: Option<String>,
}

struct Arm<'a> {
    http: &'a Http,
    base: String,
    token: Zeroizing<String>,
}

impl Arm<'_> {
    /// Every `value` element of a list, following `nextLink`.
    async fn list_all(&self, what: &str, path_and_query: &str) -> Result<Vec<Value>, CloudError> {
        let mut url = format!("{}{path_and_query}", self.base);
        let mut out = Vec::new();
        let bearer = format!("Bearer {}", self.token.as_str());
        for _ in 0..100_000 {
            let v = get_json(
                self.http,
                Provider::Azure,
                what,
                &url,
                ("authorization", &bearer),
            )
            .await?;
            match v["value"].as_array() {
                Some(items) => out.extend(items.iter().cloned()),
                None => return Err(CloudError::malformed(what, "no `value` array")),
            }
            match v["nextLink"].as_str().filter(|s| !s.is_empty()) {
                None => return Ok(out),
                Some(next) if same_origin(&self.base, next) => url = next.to_string(),
                Some(next) => {
                    return Err(CloudError::malformed(
                        what,
                        format!("nextLink `{next}` leaves {}", self.base),
                    ));
                }
            }
        }
        Err(CloudError::malformed(what, "more than 100,000 pages"))
    }
}

async fn token(
    env: &AzureEnv,
    opts: &AzureOptions,
    http: &Http,
    base: &str,
) -> Result<Zeroizing<String>, CloudError> {
    if let Some(t) = env.var("AZURE_ACCESS_TOKEN") {
        return Ok(Zeroizing::new(t.to_string()));
    }
    let (Some(tenant), Some(client), Some(secret)) = (
        env.var("AZURE_TENANT_ID"),
        env.var("AZURE_CLIENT_ID"),
        env.var("AZURE_CLIENT_SECRET"),
    ) else {
        return Err(CloudError::Config(
            "no Azure credentials: set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET \
             (a service principal with the Reader role), or AZURE_ACCESS_TOKEN"
                .into(),
        ));
    };
    let authority = opts
        .authority
        .clone()
        .or_else(|| env.var("AZURE_AUTHORITY_HOST").map(str::to_string))
        .unwrap_or_else(|| "https://login.microsoftonline.com".into());
    let url = format!(
        "{}/{}/oauth2/v2.0/token",
        authority.trim_end_matches('/'),
        url::form_urlencoded::byte_serialize(tenant.as_bytes()).collect::<String>()
    );
    let scope = format!("{}/.default", base.trim_end_matches('/'));
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "client_credentials")
        .append_pair("client_id", client)
        .append_pair("client_secret", secret)
        .append_pair("scope", &scope)
        .finish();
    let body = Zeroizing::new(body);
    crate::http::oauth_token(http, Provider::Azure, "azure token", &url, &body).await
}

/// Lists every subscription.
pub async fn list(
    env: &AzureEnv,
    opts: &AzureOptions,
    http: &Arc<Http>,
    progress: Arc<dyn Progress>,
) -> Result<Listing, CloudError> {
    let base = opts
        .endpoint
        .clone()
        .unwrap_or_else(|| "https://management.azure.com".into())
        .trim_end_matches('/')
        .to_string();
    let arm = Arm {
        http,
        token: token(env, opts, http, &base).await?,
        base,
    };
    let subscriptions = if !opts.subscriptions.is_empty() {
        opts.subscriptions.clone()
    } else if let Some(s) = env.var("AZURE_SUBSCRIPTION_ID") {
        vec![s.to_string()]
    } else {
        let subs = arm
            .list_all(
                "azure subscriptions",
                &format!("/subscriptions?api-version={API_SUBSCRIPTIONS}"),
            )
            .await?;
        subs.iter()
            .filter(|s| s["state"].as_str().is_none_or(|st| st == "Enabled"))
            .filter_map(|s| s["subscriptionId"].as_str().map(str::to_string))
            .collect()
    };
    let mut listing = Listing::default();
    let mut first_error = None;
    let mut ok = 0;
    for sub in subscriptions {
        let outcome = match list_subscription(&arm, &sub).await {
            Ok(resources) => {
                ok += 1;
                let n = resources.len();
                listing.resources.extend(resources);
                RegionOutcome {
                    account: sub,
                    region: "*".into(),
                    resources: n,
                    error: None,
                }
            }
            Err(e) => {
                let o = RegionOutcome {
                    account: sub,
                    region: "*".into(),
                    resources: 0,
                    error: Some(e.to_string()),
                };
                first_error.get_or_insert(e);
                o
            }
        };
        progress.region_done(&outcome);
        listing.regions.push(outcome);
    }
    if ok == 0
        && let Some(e) = first_error
    {
        return Err(e);
    }
    (listing.requests, listing.throttled) = http.counters();
    Ok(listing)
}

fn lower_id(v: &Value) -> Option<String> {
    v.as_str().map(|s| s.to_ascii_lowercase())
}

/// An NSG's rules reduced to (exposures, deny rules from any source).
#[derive(Default, Clone)]
struct Nsg {
    allow: Vec<(i64, Exposure)>,
    deny: Vec<(i64, Exposure)>,
}

impl Nsg {
    fn from(v: &Value) -> Nsg {
        let mut nsg = Nsg::default();
        let rules = v["properties"]["securityRules"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(
                v["properties"]["defaultSecurityRules"]
                    .as_array()
                    .into_iter()
                    .flatten(),
            );
        for r in rules {
            let p = &r["properties"];
            if !p["direction"]
                .as_str()
                .is_some_and(|d| d.eq_ignore_ascii_case("Inbound"))
            {
                continue;
            }
            let sources: Vec<&str> = p["sourceAddressPrefix"]
                .as_str()
                .into_iter()
                .chain(
                    p["sourceAddressPrefixes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str),
                )
                .collect();
            let Some(source) = sources.into_iter().find(|s| exposure::is_any_source(s)) else {
                continue;
            };
            let ports: Vec<&str> = p["destinationPortRange"]
                .as_str()
                .into_iter()
                .chain(
                    p["destinationPortRanges"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str),
                )
                .collect();
            let name = r["name"].as_str().unwrap_or("rule");
            let nsg_name = v["name"].as_str().unwrap_or("nsg");
            let priority = p["priority"].as_i64().unwrap_or(65000);
            let proto = p["protocol"].as_str().unwrap_or("*");
            for range in ports {
                let Some((a, b)) = exposure::port_range(range) else {
                    continue;
                };
                let e = exposure::exposure(proto, a, b, source, &format!("{nsg_name}/{name}"));
                match p["access"].as_str() {
                    Some(x) if x.eq_ignore_ascii_case("Allow") => nsg.allow.push((priority, e)),
                    Some(x) if x.eq_ignore_ascii_case("Deny") => nsg.deny.push((priority, e)),
                    _ => {}
                }
            }
        }
        nsg
    }

    /// Allowed exposures not shadowed by a higher-precedence deny covering them.
    fn effective(&self) -> Vec<Exposure> {
        self.allow
            .iter()
            .filter(|(prio, e)| {
                !self.deny.iter().any(|(dp, d)| {
                    dp < prio
                        && (d.protocol == "all" || d.protocol == e.protocol)
                        && d.from_port <= e.from_port
                        && e.to_port <= d.to_port
                })
            })
            .map(|(_, e)| e.clone())
            .collect()
    }
}

async fn list_subscription(arm: &Arm<'_>, sub: &str) -> Result<Vec<CloudResource>, CloudError> {
    let s = url::form_urlencoded::byte_serialize(sub.as_bytes()).collect::<String>();
    let vms = arm
        .list_all(
            "azure virtualMachines",
            &format!(
                "/subscriptions/{s}/providers/Microsoft.Compute/virtualMachines?api-version={API_COMPUTE}"
            ),
        )
        .await?;
    let nics = arm
        .list_all(
            "azure networkInterfaces",
            &format!(
                "/subscriptions/{s}/providers/Microsoft.Network/networkInterfaces?api-version={API_NETWORK}"
            ),
        )
        .await?;
    let pips = arm
        .list_all(
            "azure publicIPAddresses",
            &format!(
                "/subscriptions/{s}/providers/Microsoft.Network/publicIPAddresses?api-version={API_NETWORK}"
            ),
        )
        .await?;
    let nsgs = arm
        .list_all(
            "azure networkSecurityGroups",
            &format!(
                "/subscriptions/{s}/providers/Microsoft.Network/networkSecurityGroups?api-version={API_NETWORK}"
            ),
        )
        .await?;
    // Public IPs by id; NSGs by id and by the subnets they are attached to.
    let mut pip_by_id: HashMap<String, &Value> = HashMap::new();
    for p in &pips {
        if let Some(id) = lower_id(&p["id"]) {
            pip_by_id.insert(id, p);
        }
    }
    let mut nsg_by_id: HashMap<String, (String, Nsg)> = HashMap::new();
    let mut nsg_by_subnet: HashMap<String, String> = HashMap::new();
    for n in &nsgs {
        let Some(id) = lower_id(&n["id"]) else {
            continue;
        };
        for sn in n["properties"]["subnets"].as_array().into_iter().flatten() {
            if let Some(sid) = lower_id(&sn["id"]) {
                nsg_by_subnet.insert(sid, id.clone());
            }
        }
        nsg_by_id.insert(
            id,
            (n["name"].as_str().unwrap_or("").to_string(), Nsg::from(n)),
        );
    }
    let nic_by_id: HashMap<String, &Value> = nics
        .iter()
        .filter_map(|n| Some((lower_id(&n["id"])?, n)))
        .collect();
    let mut out = Vec::new();
    const WHAT: &str = "azure networkInterfaces";
    let mut attached_pips: Vec<String> = Vec::new();
    for vm in &vms {
        let Some(id) = vm["id"].as_str() else {
            return Err(CloudError::malformed(
                "azure virtualMachines",
                "a virtual machine without id",
            ));
        };
        let location = vm["location"].as_str().unwrap_or("");
        let mut r = CloudResource::new(Provider::Azure, sub, location, ResourceKind::Instance, id);
        r.name = vm["name"].as_str().unwrap_or(id).to_string();
        let props = &vm["properties"];
        r.state = props["provisioningState"]
            .as_str()
            .unwrap_or("")
            .to_string();
        r.gone = r.state.eq_ignore_ascii_case("Deleting");
        if let Some(os) = props["storageProfile"]["osDisk"]["osType"].as_str() {
            r.tags.insert("azure:os-type".into(), os.to_string());
        }
        if let Some(img) = props["storageProfile"]["imageReference"].as_object() {
            let parts: Vec<&str> = ["publisher", "offer", "sku", "version"]
                .iter()
                .filter_map(|k| img.get(*k).and_then(Value::as_str))
                .collect();
            if !parts.is_empty() {
                r.image = Some(parts.join(":"));
            }
        }
        for (k, v) in vm["tags"].as_object().into_iter().flatten() {
            r.tags
                .insert(k.clone(), v.as_str().unwrap_or_default().to_string());
        }
        let mut any_nic_without_nsg = false;
        let mut exposures: Vec<Exposure> = Vec::new();
        for nic_ref in props["networkProfile"]["networkInterfaces"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let Some(nic) = lower_id(&nic_ref["id"]).and_then(|i| nic_by_id.get(&i).copied())
            else {
                continue;
            };
            let nic_nsg = lower_id(&nic["properties"]["networkSecurityGroup"]["id"]);
            for cfg in nic["properties"]["ipConfigurations"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let cp = &cfg["properties"];
                if let Some(ip) = parse_ip(WHAT, cp["privateIPAddress"].as_str().unwrap_or(""))? {
                    push_unique(&mut r.private_ips, ip);
                }
                if let Some(pid) = lower_id(&cp["publicIPAddress"]["id"]) {
                    attached_pips.push(pid.clone());
                    if let Some(p) = pip_by_id.get(&pid) {
                        let pp = &p["properties"];
                        if let Some(ip) = parse_ip(
                            "azure publicIPAddresses",
                            pp["ipAddress"].as_str().unwrap_or(""),
                        )? {
                            push_unique(&mut r.public_ips, ip);
                        }
                        if let Some(fqdn) = pp["dnsSettings"]["fqdn"].as_str() {
                            push_unique(&mut r.dns_names, fqdn.to_ascii_lowercase());
                        }
                    }
                }
                let subnet_nsg =
                    lower_id(&cp["subnet"]["id"]).and_then(|s| nsg_by_subnet.get(&s).cloned());
                let groups: Vec<&String> = nic_nsg.iter().chain(subnet_nsg.iter()).collect();
                for g in &groups {
                    if let Some((name, _)) = nsg_by_id.get(*g) {
                        push_unique(&mut r.firewall_groups, name.clone());
                    }
                }
                let eff = |id: &Option<String>| {
                    id.as_ref()
                        .and_then(|i| nsg_by_id.get(i))
                        .map(|(_, n)| n.effective())
                };
                match (eff(&nic_nsg), eff(&subnet_nsg)) {
                    (None, None) => any_nic_without_nsg = true,
                    (Some(a), None) | (None, Some(a)) => exposures.extend(a),
                    (Some(a), Some(b)) => exposures.extend(a.into_iter().filter(|e| {
                        b.iter().any(|x| {
                            (x.protocol == "all" || x.protocol == e.protocol)
                                && x.from_port <= e.from_port
                                && e.to_port <= x.to_port
                        })
                    })),
                }
            }
        }
        if any_nic_without_nsg {
            exposures.push(exposure::exposure(
                "all",
                0,
                65535,
                "*",
                "no network security group",
            ));
        }
        r.exposures = exposures;
        r.settle_exposure();
        out.push(r);
    }
    // Public IPs attached to nothing we listed (a load balancer's, or unattached).
    for p in &pips {
        let Some(pid) = lower_id(&p["id"]) else {
            continue;
        };
        if attached_pips.contains(&pid) || !p["properties"]["ipConfiguration"].is_null() {
            continue;
        }
        let Some(ip) = parse_ip(
            "azure publicIPAddresses",
            p["properties"]["ipAddress"].as_str().unwrap_or(""),
        )?
        else {
            continue;
        };
        let id = p["id"].as_str().unwrap_or("");
        let mut r = CloudResource::new(
            Provider::Azure,
            sub,
            p["location"].as_str().unwrap_or(""),
            ResourceKind::Address,
            id,
        );
        r.name = p["name"].as_str().unwrap_or(id).to_string();
        r.state = "unattached".into();
        r.public_ips.push(ip);
        r.settle_exposure();
        out.push(r);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nsg_allow_rules_shadowed_by_higher_precedence_denies_are_not_exposures() {
        let nsg: Value = serde_json::json!({"name": "web-nsg", "properties": {"securityRules": [
            {"name": "deny-rdp", "properties": {"direction": "Inbound", "access": "Deny", "priority": 100,
              "protocol": "*", "sourceAddressPrefix": "*", "destinationPortRange": "3389"}},
            {"name": "rdp", "properties": {"direction": "Inbound", "access": "Allow", "priority": 200,
              "protocol": "Tcp", "sourceAddressPrefix": "Internet", "destinationPortRange": "3389"}},
            {"name": "https", "properties": {"direction": "Inbound", "access": "Allow", "priority": 300,
              "protocol": "Tcp", "sourceAddressPrefixes": ["10.0.0.0/8", "0.0.0.0/0"], "destinationPortRanges": ["443", "8443-8444"]}},
            {"name": "ssh-office", "properties": {"direction": "Inbound", "access": "Allow", "priority": 400,
              "protocol": "Tcp", "sourceAddressPrefix": "203.0.113.0/24", "destinationPortRange": "22"}}
        ]}});
        let e = Nsg::from(&nsg).effective();
        let ports: Vec<String> = e.iter().map(|e| e.ports()).collect();
        assert_eq!(ports, ["tcp/443", "tcp/8443-8444"]);
        assert_eq!(e[0].rule, "web-nsg/https");
    }
}
