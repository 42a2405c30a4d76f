//! Azure, GCP and OpenStack inventories against local servers: no emulator of these APIs runs
//! here, so each fake answers with the response shapes the vendor documents and checks every
//! request as the documentation describes it — token endpoints and their form or JSON bodies
//! (the GCP JWT's RS256 signature is verified with the key's public half), paths, API versions,
//! `Authorization` / `X-Auth-Token` headers, and paging (`nextLink`, `pageToken`, `marker` +
//! `*_links`). Throttling (429) is retried; a subscription that keeps failing is reported while
//! the rest is kept. On SQLite and PostgreSQL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use vantage_app::cloud::{CloudRequest, CloudTuning};
use vantage_app::{App, AppError, Config};
use vantage_cloud::http::RetryPolicy;
use vantage_cloud::{NoProgress, ResourceKind};
use vantage_test_utils::both_backends;

type Q = Query<HashMap<String, String>>;

#[derive(Clone, Default)]
struct Fake {
    base: Arc<Mutex<String>>,
    seen: Arc<Mutex<Vec<String>>>,
    throttled_once: Arc<Mutex<bool>>,
    public_key: Arc<Vec<u8>>,
}

impl Fake {
    fn log(&self, s: String) {
        self.seen.lock().unwrap().push(s);
    }
    fn base(&self) -> String {
        self.base.lock().unwrap().clone()
    }
}

async fn serve(router: Router, fake: &Fake) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    *fake.base.lock().unwrap() = base.clone();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    base
}

fn json(status: StatusCode, v: serde_json::Value) -> Response {
    (
        status,
        [("content-type", "application/json")],
        v.to_string(),
    )
        .into_response()
}

fn form(body: &Bytes) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn tuning(vars: &[(&str, &str)]) -> CloudTuning {
    CloudTuning {
        env: Some(
            vars.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        retry: RetryPolicy {
            attempts: 3,
            base: Duration::from_millis(10),
            max: Duration::from_millis(50),
        },
        ..CloudTuning::default()
    }
}

// ---------------------------------------------------------------- Azure

async fn azure_token(State(f): State<Fake>, uri: Uri, body: Bytes) -> Response {
    let p = form(&body);
    f.log(format!("POST {}", uri.path()));
    let expected_scope = format!("{}/.default", f.base());
    if uri.path() != "/tenant-1/oauth2/v2.0/token"
        || p.get("grant_type").map(String::as_str) != Some("client_credentials")
        || p.get("client_id").map(String::as_str) != Some("app-1")
        || p.get("scope") != Some(&expected_scope)
    {
        return json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error": "invalid_request", "error_description": format!("unexpected token request {p:?}")}),
        );
    }
    if p.get("client_secret").map(String::as_str) != Some("s3cret") {
        return json(
            StatusCode::UNAUTHORIZED,
            serde_json::json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."}),
        );
    }
    json(
        StatusCode::OK,
        serde_json::json!({"token_type": "Bearer", "expires_in": 3599, "access_token": "az-token"}),
    )
}

fn vm(sub: &str, name: &str, nic: &str) -> serde_json::Value {
    serde_json::json!({
        "id": format!("/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/{name}"),
        "name": name, "location": "westeurope", "tags": {"env": "prod"},
        "properties": {"provisioningState": "Succeeded", "vmId": format!("uuid-{name}"),
          "storageProfile": {"osDisk": {"osType": "Linux"}, "imageReference": {"publisher": "Debian", "offer": "debian-12", "sku": "12", "version": "latest"}},
          "networkProfile": {"networkInterfaces": [{"id": format!("/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/{nic}")}]}}
    })
}

async fn arm(State(f): State<Fake>, headers: HeaderMap, uri: Uri, Query(q): Q) -> Response {
    let path = uri.path().to_string();
    f.log(format!("GET {path} {:?}", q.get("$skiptoken")));
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer az-token") {
        return json(
            StatusCode::UNAUTHORIZED,
            serde_json::json!({"error": {"code": "InvalidAuthenticationToken", "message": "The access token is invalid."}}),
        );
    }
    let want = if path == "/subscriptions" {
        "2022-12-01"
    } else if path.contains("Microsoft.Compute") {
        "2024-07-01"
    } else {
        "2024-05-01"
    };
    if q.get("api-version").map(String::as_str) != Some(want) {
        return json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error": {"code": "InvalidApiVersionParameter", "message": format!("{path}: api-version {want} expected, got {:?}", q.get("api-version"))}}),
        );
    }
    let rg = "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Network";
    let body = match path.as_str() {
        "/subscriptions" => serde_json::json!({"value": [
            {"id": "/subscriptions/sub-1", "subscriptionId": "sub-1", "displayName": "prod", "state": "Enabled"},
            {"id": "/subscriptions/sub-2", "subscriptionId": "sub-2", "displayName": "broken", "state": "Enabled"},
            {"id": "/subscriptions/sub-3", "subscriptionId": "sub-3", "displayName": "old", "state": "Disabled"}]}),
        "/subscriptions/sub-1/providers/Microsoft.Compute/virtualMachines" => {
            match q.get("$skiptoken").map(String::as_str) {
                None => serde_json::json!({"value": [vm("sub-1", "web-1", "web-1-nic")],
                "nextLink": format!("{}{path}?api-version=2024-07-01&$skiptoken=page2", f.base())}),
                Some("page2") => serde_json::json!({"value": [vm("sub-1", "db-1", "db-1-nic")]}),
                Some(t) => {
                    return json(
                        StatusCode::BAD_REQUEST,
                        serde_json::json!({"error": {"code": "BadToken", "message": t}}),
                    );
                }
            }
        }
        "/subscriptions/sub-1/providers/Microsoft.Network/networkInterfaces" => {
            serde_json::json!({"value": [
            {"id": format!("{rg}/networkInterfaces/web-1-nic"), "name": "web-1-nic", "properties": {
                "networkSecurityGroup": {"id": format!("{rg}/networkSecurityGroups/web-nsg")},
                "ipConfigurations": [{"name": "ipconfig1", "properties": {"privateIPAddress": "10.1.0.4",
                    "subnet": {"id": format!("{rg}/virtualNetworks/vnet/subnets/front")},
                    "publicIPAddress": {"id": format!("{rg}/publicIPAddresses/web-1-ip")}}}]}},
            {"id": format!("{rg}/networkInterfaces/db-1-nic"), "name": "db-1-nic", "properties": {
                "ipConfigurations": [{"name": "ipconfig1", "properties": {"privateIPAddress": "10.1.1.4",
                    "subnet": {"id": format!("{rg}/virtualNetworks/vnet/subnets/back")}}}]}}]})
        }
        "/subscriptions/sub-1/providers/Microsoft.Network/publicIPAddresses" => {
            serde_json::json!({"value": [
            {"id": format!("{rg}/publicIPAddresses/web-1-ip"), "name": "web-1-ip", "location": "westeurope",
             "properties": {"ipAddress": "198.51.100.10", "dnsSettings": {"fqdn": "web-1.westeurope.cloudapp.azure.com"},
               "ipConfiguration": {"id": format!("{rg}/networkInterfaces/web-1-nic/ipConfigurations/ipconfig1")}}},
            {"id": format!("{rg}/publicIPAddresses/spare-ip"), "name": "spare-ip", "location": "westeurope",
             "properties": {"ipAddress": "198.51.100.11"}}]})
        }
        "/subscriptions/sub-1/providers/Microsoft.Network/networkSecurityGroups" => {
            serde_json::json!({"value": [
            {"id": format!("{rg}/networkSecurityGroups/web-nsg"), "name": "web-nsg", "properties": {
                "securityRules": [
                    {"name": "https", "properties": {"direction": "Inbound", "access": "Allow", "priority": 100, "protocol": "Tcp",
                       "sourceAddressPrefix": "Internet", "destinationPortRange": "443"}},
                    {"name": "ssh-office", "properties": {"direction": "Inbound", "access": "Allow", "priority": 110, "protocol": "Tcp",
                       "sourceAddressPrefix": "203.0.113.0/24", "destinationPortRange": "22"}}],
                "defaultSecurityRules": [
                    {"name": "DenyAllInBound", "properties": {"direction": "Inbound", "access": "Deny", "priority": 65500, "protocol": "*",
                       "sourceAddressPrefix": "*", "destinationPortRange": "*"}}]}},
            {"id": format!("{rg}/networkSecurityGroups/back-nsg"), "name": "back-nsg", "properties": {
                "subnets": [{"id": format!("{rg}/virtualNetworks/vnet/subnets/back")}],
                "securityRules": [{"name": "pg-vnet", "properties": {"direction": "Inbound", "access": "Allow", "priority": 100,
                    "protocol": "Tcp", "sourceAddressPrefix": "VirtualNetwork", "destinationPortRange": "5432"}}]}}]})
        }
        p if p.starts_with("/subscriptions/sub-2/") => {
            return json(
                StatusCode::INTERNAL_SERVER_ERROR,
                serde_json::json!({"error": {"code": "InternalServerError", "message": "try later"}}),
            );
        }
        _ => {
            return json(
                StatusCode::NOT_FOUND,
                serde_json::json!({"error": {"code": "NotFound", "message": path}}),
            );
        }
    };
    json(StatusCode::OK, body)
}

// ---------------------------------------------------------------- GCP

fn b64url_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap_or_default()
}

async fn gcp_token(State(f): State<Fake>, body: Bytes) -> Response {
    let p = form(&body);
    f.log("POST /token".into());
    if p.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error": "unsupported_grant_type"}),
        );
    }
    let jwt = p.get("assertion").cloned().unwrap_or_default();
    let parts: Vec<&str> = jwt.split('.').collect();
    if parts.len() != 3 {
        return json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error": "invalid_grant", "error_description": "not a JWT"}),
        );
    }
    let key = aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        f.public_key.as_slice(),
    );
    if key
        .verify(
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
            &b64url_decode(parts[2]),
        )
        .is_err()
    {
        return json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error": "invalid_grant", "error_description": "Invalid JWT Signature."}),
        );
    }
    let header: serde_json::Value =
        serde_json::from_slice(&b64url_decode(parts[0])).unwrap_or_default();
    let claims: serde_json::Value =
        serde_json::from_slice(&b64url_decode(parts[1])).unwrap_or_default();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let ok = header["alg"] == "RS256"
        && header["kid"] == "key-1"
        && claims["iss"] == "scanner@shop.iam.gserviceaccount.com"
        && claims["aud"] == format!("{}/token", f.base())
        && claims["scope"] == "https://www.googleapis.com/auth/compute.readonly"
        && claims["exp"]
            .as_i64()
            .is_some_and(|e| e > now && e <= now + 3600 + 5);
    if !ok {
        return json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error": "invalid_grant", "error_description": format!("bad claims {header} {claims}")}),
        );
    }
    json(
        StatusCode::OK,
        serde_json::json!({"access_token": "gcp-token", "expires_in": 3599, "token_type": "Bearer"}),
    )
}

fn gce(
    id: &str,
    name: &str,
    zone: &str,
    tags: &[&str],
    ip: &str,
    nat: Option<&str>,
) -> serde_json::Value {
    serde_json::json!({"kind": "compute#instance", "id": id, "name": name,
        "zone": format!("https://www.googleapis.com/compute/v1/projects/shop/zones/{zone}"), "status": "RUNNING",
        "labels": {"team": "web"}, "tags": {"items": tags},
        "networkInterfaces": [{"network": "https://www.googleapis.com/compute/v1/projects/shop/global/networks/default",
            "networkIP": ip, "accessConfigs": nat.map(|n| vec![serde_json::json!({"type": "ONE_TO_ONE_NAT", "natIP": n})]).unwrap_or_default()}]})
}

async fn compute(State(f): State<Fake>, headers: HeaderMap, uri: Uri, Query(q): Q) -> Response {
    let path = uri.path().to_string();
    f.log(format!("GET {path} {:?}", q.get("pageToken")));
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer gcp-token") {
        return json(
            StatusCode::UNAUTHORIZED,
            serde_json::json!({"error": {"code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED"}}),
        );
    }
    if q.get("maxResults").map(String::as_str) != Some("2") {
        return json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error": {"code": 400, "message": format!("maxResults=2 expected: {q:?}")}}),
        );
    }
    match path.as_str() {
        "/compute/v1/projects/shop/global/firewalls" => json(
            StatusCode::OK,
            serde_json::json!({"kind": "compute#firewallList", "items": [
            {"name": "allow-web", "network": "https://www.googleapis.com/compute/v1/projects/shop/global/networks/default",
             "direction": "INGRESS", "priority": 1000, "sourceRanges": ["0.0.0.0/0"], "targetTags": ["web"],
             "allowed": [{"IPProtocol": "tcp", "ports": ["80", "443"]}]},
            {"name": "allow-internal", "network": "https://www.googleapis.com/compute/v1/projects/shop/global/networks/default",
             "direction": "INGRESS", "priority": 65534, "sourceRanges": ["10.128.0.0/9"], "allowed": [{"IPProtocol": "all"}]}]}),
        ),
        "/compute/v1/projects/shop/aggregated/instances" => {
            if q.get("returnPartialSuccess").map(String::as_str) != Some("true") {
                return json(
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({"error": {"code": 400, "message": "returnPartialSuccess expected"}}),
                );
            }
            {
                let mut t = f.throttled_once.lock().unwrap();
                if !*t {
                    *t = true;
                    return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "0")], r#"{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED"}}"#).into_response();
                }
            }
            match q.get("pageToken").map(String::as_str) {
                None => json(
                    StatusCode::OK,
                    serde_json::json!({"kind": "compute#instanceAggregatedList", "nextPageToken": "tok-2",
                    "items": {"zones/europe-west1-b": {"instances": [gce("101", "web-1", "europe-west1-b", &["web"], "10.132.0.2", Some("203.0.113.21"))]},
                              "zones/us-central1-a": {"warning": {"code": "NO_RESULTS_ON_PAGE", "message": "There are no results for scope 'zones/us-central1-a' on this page."}}}}),
                ),
                Some("tok-2") => json(
                    StatusCode::OK,
                    serde_json::json!({"kind": "compute#instanceAggregatedList",
                    "items": {"zones/us-central1-a": {"instances": [gce("102", "batch-1", "us-central1-a", &[], "10.128.0.9", Some("203.0.113.22"))]}},
                    "unreachables": ["zones/asia-east1-a"]}),
                ),
                Some(t) => json(
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({"error": {"code": 400, "message": format!("bad pageToken {t}")}}),
                ),
            }
        }
        _ => json(
            StatusCode::NOT_FOUND,
            serde_json::json!({"error": {"code": 404, "message": path}}),
        ),
    }
}

// ---------------------------------------------------------------- OpenStack

async fn keystone(State(f): State<Fake>, body: Bytes) -> Response {
    f.log("POST /v3/auth/tokens".into());
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let id = &v["auth"]["identity"];
    let user = &id["password"]["user"];
    let ok = id["methods"] == serde_json::json!(["password"])
        && user["name"] == "scanner"
        && user["domain"]["name"] == "Default"
        && v["auth"]["scope"]["project"]["name"] == "shop"
        && v["auth"]["scope"]["project"]["domain"]["name"] == "Default";
    if !ok {
        return json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error": {"code": 400, "title": "Bad Request", "message": format!("unexpected body {v}")}}),
        );
    }
    if user["password"] != "pw" {
        return json(
            StatusCode::UNAUTHORIZED,
            serde_json::json!({"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}),
        );
    }
    let b = f.base();
    let body = serde_json::json!({"token": {"methods": ["password"], "expires_at": "2099-01-01T00:00:00.000000Z",
        "project": {"id": "proj-1", "name": "shop", "domain": {"id": "default", "name": "Default"}},
        "catalog": [
            {"type": "compute", "name": "nova", "endpoints": [
                {"interface": "internal", "region": "RegionOne", "region_id": "RegionOne", "url": "http://10.0.0.1:8774/v2.1"},
                {"interface": "public", "region": "RegionOne", "region_id": "RegionOne", "url": format!("{b}/compute/v2.1")}]},
            {"type": "network", "name": "neutron", "endpoints": [
                {"interface": "public", "region": "RegionOne", "region_id": "RegionOne", "url": format!("{b}/network")}]},
            {"type": "identity", "name": "keystone", "endpoints": [{"interface": "public", "region": "RegionOne", "url": format!("{b}/v3")}]}]}});
    (
        StatusCode::CREATED,
        [
            ("x-subject-token", "os-token"),
            ("content-type", "application/json"),
        ],
        body.to_string(),
    )
        .into_response()
}

fn server(id: &str, name: &str, fixed: &str, floating: Option<&str>) -> serde_json::Value {
    let mut addrs =
        vec![serde_json::json!({"addr": fixed, "version": 4, "OS-EXT-IPS:type": "fixed"})];
    if let Some(f) = floating {
        addrs.push(serde_json::json!({"addr": f, "version": 4, "OS-EXT-IPS:type": "floating"}));
    }
    serde_json::json!({"id": id, "name": name, "status": "ACTIVE", "OS-EXT-AZ:availability_zone": "nova",
        "image": {"id": "img-1"}, "metadata": {"env": "prod"}, "addresses": {"private": addrs},
        "security_groups": [{"name": "web"}]})
}

async fn openstack_api(
    State(f): State<Fake>,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Q,
) -> Response {
    let path = uri.path().to_string();
    f.log(format!("GET {path} {:?}", q.get("marker")));
    if headers.get("x-auth-token").and_then(|v| v.to_str().ok()) != Some("os-token") {
        return json(
            StatusCode::UNAUTHORIZED,
            serde_json::json!({"error": {"code": 401, "message": "Authentication required"}}),
        );
    }
    if q.get("limit").map(String::as_str) != Some("2") {
        return json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"badRequest": {"code": 400, "message": format!("limit=2 expected: {q:?}")}}),
        );
    }
    let b = f.base();
    let body = match (path.as_str(), q.get("marker").map(String::as_str)) {
        ("/compute/v2.1/servers/detail", None) => serde_json::json!({
            "servers": [server("s1", "web-1", "192.168.0.11", Some("203.0.113.31")), server("s2", "web-2", "192.168.0.12", None)],
            "servers_links": [{"rel": "next", "href": format!("{b}/compute/v2.1/servers/detail?limit=2&marker=s2")}]}),
        ("/compute/v2.1/servers/detail", Some("s2")) => {
            serde_json::json!({"servers": [server("s3", "db-1", "192.168.0.13", None)]})
        }
        ("/network/v2.0/ports", None) => serde_json::json!({"ports": [
            {"id": "p1", "device_id": "s1", "fixed_ips": [{"subnet_id": "sn", "ip_address": "192.168.0.11"}], "security_groups": ["g-web"], "port_security_enabled": true},
            {"id": "p2", "device_id": "s2", "fixed_ips": [{"subnet_id": "sn", "ip_address": "192.168.0.12"}], "security_groups": ["g-web"], "port_security_enabled": true}],
            "ports_links": [{"rel": "next", "href": format!("{b}/network/v2.0/ports?limit=2&marker=p2")}]}),
        ("/network/v2.0/ports", Some("p2")) => serde_json::json!({"ports": [
            {"id": "p3", "device_id": "s3", "fixed_ips": [{"subnet_id": "sn", "ip_address": "192.168.0.13"}], "security_groups": ["g-db"], "port_security_enabled": true}]}),
        ("/network/v2.0/floatingips", None) => serde_json::json!({"floatingips": [
            {"id": "f1", "floating_ip_address": "203.0.113.31", "port_id": "p1", "fixed_ip_address": "192.168.0.11"},
            {"id": "f2", "floating_ip_address": "203.0.113.32", "port_id": "p2", "fixed_ip_address": "192.168.0.12"}]}),
        ("/network/v2.0/security-groups", None) => serde_json::json!({"security_groups": [
            {"id": "g-web", "name": "web", "security_group_rules": [
                {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 443, "port_range_max": 443, "remote_ip_prefix": "0.0.0.0/0", "remote_group_id": null},
                {"direction": "egress", "ethertype": "IPv4", "protocol": null, "port_range_min": null, "port_range_max": null, "remote_ip_prefix": null, "remote_group_id": null}]},
            {"id": "g-db", "name": "db", "security_group_rules": [
                {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 5432, "port_range_max": 5432, "remote_ip_prefix": null, "remote_group_id": "g-web"}]}]}),
        _ => {
            return json(
                StatusCode::NOT_FOUND,
                serde_json::json!({"itemNotFound": {"code": 404, "message": path}}),
            );
        }
    };
    json(StatusCode::OK, body)
}

fn exposures(r: &vantage_app::cloud::CloudReport, name: &str) -> Vec<String> {
    r.resources
        .iter()
        .find(|a| a.resource.name == name)
        .unwrap_or_else(|| panic!("{name} not listed"))
        .resource
        .exposures
        .iter()
        .map(|e| e.ports())
        .collect()
}

both_backends! {
    async fn azure_subscriptions_are_listed_with_paging_and_a_failing_one_is_reported(db) {
        let app = App::from_parts(Config::default(), db.store.clone());
        let fake = Fake::default();
        let base = serve(Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(azure_token))
            .fallback(get(arm))
            .with_state(fake.clone()), &fake).await;
        let req = CloudRequest::Azure(vantage_cloud::azure::AzureOptions {
            subscriptions: vec![], endpoint: Some(base.clone()), authority: Some(base.clone()),
        });
        let vars = [("AZURE_TENANT_ID", "tenant-1"), ("AZURE_CLIENT_ID", "app-1"), ("AZURE_CLIENT_SECRET", "wrong")];
        let err = app.discover_cloud(&req, &tuning(&vars), Arc::new(NoProgress), "test").await.unwrap_err();
        assert!(matches!(err, AppError::Invalid(_)) && err.to_string().contains("AADSTS7000215"), "{err}");

        let vars = [("AZURE_TENANT_ID", "tenant-1"), ("AZURE_CLIENT_ID", "app-1"), ("AZURE_CLIENT_SECRET", "s3cret")];
        let r = app.discover_cloud(&req, &tuning(&vars), Arc::new(NoProgress), "test").await.unwrap();
        // Both VM pages were read; the disabled subscription was skipped; the broken one is reported.
        let seen = fake.seen.lock().unwrap().clone();
        assert!(seen.iter().any(|s| s.contains("virtualMachines Some(\"page2\")")), "{seen:?}");
        assert!(!seen.iter().any(|s| s.contains("sub-3")), "{seen:?}");
        let failed: Vec<_> = r.regions.iter().filter(|o| o.error.is_some()).map(|o| o.account.as_str()).collect();
        assert_eq!(failed, ["sub-2"]);
        let names: Vec<&str> = r.resources.iter().map(|a| a.resource.name.as_str()).collect();
        assert_eq!(names, ["web-1", "db-1", "spare-ip"]);
        assert_eq!(exposures(&r, "web-1"), ["tcp/443"]);
        let web = &r.resources[0].resource;
        assert!(web.internet_exposed && web.public_ips == ["198.51.100.10".parse::<std::net::IpAddr>().unwrap()]);
        assert_eq!(web.dns_names, ["web-1.westeurope.cloudapp.azure.com"]);
        // The database's subnet NSG admits only the virtual network.
        assert!(exposures(&r, "db-1").is_empty());
        assert_eq!(r.resources[2].resource.kind, ResourceKind::Address);
    }

    async fn gcp_instances_come_from_aggregated_pages_with_throttling_and_unreachable_zones(db) {
        let app = App::from_parts(Config::default(), db.store.clone());
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.pem");
        let st = std::process::Command::new("openssl").args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out"]).arg(&key).output().unwrap();
        assert!(st.status.success());
        let public = std::process::Command::new("openssl").args(["rsa", "-RSAPublicKey_out", "-outform", "DER", "-in"]).arg(&key).output().unwrap();
        assert!(public.status.success());
        let fake = Fake { public_key: Arc::new(public.stdout), ..Fake::default() };
        let base = serve(Router::new().route("/token", post(gcp_token)).fallback(get(compute)).with_state(fake.clone()), &fake).await;
        let sa = dir.path().join("sa.json");
        std::fs::write(&sa, serde_json::json!({"type": "service_account", "project_id": "shop", "private_key_id": "key-1",
            "private_key": std::fs::read_to_string(&key).unwrap(), "client_email": "scanner@shop.iam.gserviceaccount.com",
            "token_uri": format!("{base}/token")}).to_string()).unwrap();
        let req = CloudRequest::Gcp(vantage_cloud::gcp::GcpOptions {
            projects: vec![], key_file: Some(sa.display().to_string()), endpoint: Some(base.clone()), page_size: Some(2),
        });
        let r = app.discover_cloud(&req, &tuning(&[]), Arc::new(NoProgress), "test").await.unwrap();
        assert_eq!(r.throttled, 1, "the 429 was retried");
        let names: Vec<&str> = r.resources.iter().map(|a| a.resource.name.as_str()).collect();
        assert_eq!(names, ["web-1", "batch-1"]);
        assert_eq!(exposures(&r, "web-1"), ["tcp/80", "tcp/443"]);
        assert!(exposures(&r, "batch-1").is_empty(), "the internal rule is not the internet");
        // The unreachable zone is reported; the zones that answered are complete.
        let outcomes: Vec<(String, bool)> = r.regions.iter().map(|o| (o.region.clone(), o.error.is_none())).collect();
        assert_eq!(outcomes, [("asia-east1-a".to_string(), false), ("europe-west1-b".to_string(), true), ("us-central1-a".to_string(), true)]);
        assert_eq!(r.resources[0].resource.account, "shop");
    }

    async fn openstack_servers_ports_and_floating_ips_are_joined_across_pages(db) {
        let app = App::from_parts(Config::default(), db.store.clone());
        let fake = Fake::default();
        let base = serve(Router::new().route("/v3/auth/tokens", post(keystone)).fallback(get(openstack_api)).with_state(fake.clone()), &fake).await;
        let req = CloudRequest::Openstack(vantage_cloud::openstack::OpenstackOptions {
            auth_url: None, region: None, interface: None, page_size: Some(2),
        });
        let auth = format!("{base}/v3");
        let mut vars = vec![("OS_AUTH_URL", auth.as_str()), ("OS_USERNAME", "scanner"), ("OS_PASSWORD", "nope"),
            ("OS_PROJECT_NAME", "shop"), ("OS_USER_DOMAIN_NAME", "Default"), ("OS_PROJECT_DOMAIN_NAME", "Default")];
        let err = app.discover_cloud(&req, &tuning(&vars), Arc::new(NoProgress), "test").await.unwrap_err();
        assert!(err.to_string().contains("credentials refused"), "{err}");
        vars[2] = ("OS_PASSWORD", "pw");
        let r = app.discover_cloud(&req, &tuning(&vars), Arc::new(NoProgress), "test").await.unwrap();
        let names: Vec<&str> = r.resources.iter().map(|a| a.resource.name.as_str()).collect();
        assert_eq!(names, ["web-1", "web-2", "db-1"], "both server pages");
        let web2 = &r.resources[1].resource;
        assert_eq!(web2.public_ips, ["203.0.113.32".parse::<std::net::IpAddr>().unwrap()], "floating IP joined through the port");
        assert_eq!(exposures(&r, "web-1"), ["tcp/443"]);
        assert!(exposures(&r, "db-1").is_empty(), "a rule from a remote group is not the internet");
        assert_eq!((r.regions[0].account.as_str(), r.regions[0].region.as_str()), ("proj-1", "RegionOne"));
        let seen = fake.seen.lock().unwrap().clone();
        assert!(seen.contains(&"GET /network/v2.0/ports Some(\"p2\")".to_string()), "{seen:?}");
    }
}

// ---------------------------------------------------------------- AWS failure modes
// moto neither throttles nor fails a region, so these are exercised against a fake that answers
// in EC2's documented XML error shape (`Response/Errors/Error/Code`, HTTP 503 for
// `RequestLimitExceeded`, 400 for `ExpiredToken`) and checks that every request is SigV4-signed
// for the region and service it targets.

async fn ec2(State(f): State<Fake>, headers: HeaderMap, body: Bytes) -> Response {
    let p = form(&body);
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let action = p.get("Action").cloned().unwrap_or_default();
    let xml =
        |status: StatusCode, s: String| (status, [("content-type", "text/xml")], s).into_response();
    let err = |status: StatusCode, code: &str| {
        xml(
            status,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Errors><Error><Code>{code}</Code><Message>{code} for {action}</Message></Error></Errors><RequestID>r</RequestID></Response>"
            ),
        )
    };
    // AWS4-HMAC-SHA256 Credential=AK/DATE/REGION/SERVICE/aws4_request, SignedHeaders=…, Signature=…
    let scope: Vec<&str> = auth
        .split("Credential=")
        .nth(1)
        .unwrap_or("")
        .split(',')
        .next()
        .unwrap_or("")
        .split('/')
        .collect();
    if !auth.starts_with("AWS4-HMAC-SHA256 ")
        || scope.len() != 5
        || !auth.contains("Signature=")
        || headers.get("x-amz-date").is_none()
    {
        return err(StatusCode::BAD_REQUEST, "IncompleteSignature");
    }
    let (key, region, service) = (scope[0], scope[2], scope[3]);
    f.log(format!("{action} {region} {service}"));
    if key == "AKIDEXPIRED" {
        return err(StatusCode::BAD_REQUEST, "ExpiredToken");
    }
    let expected_service = if action == "GetCallerIdentity" {
        "sts"
    } else {
        "ec2"
    };
    if service != expected_service {
        return err(StatusCode::BAD_REQUEST, "SignatureDoesNotMatch");
    }
    match action.as_str() {
        "GetCallerIdentity" => xml(StatusCode::OK, "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult><Arn>arn:aws:iam::111122223333:user/scanner</Arn><UserId>AIDA</UserId><Account>111122223333</Account></GetCallerIdentityResult></GetCallerIdentityResponse>".into()),
        _ if region == "eu-south-9" => err(StatusCode::INTERNAL_SERVER_ERROR, "InternalError"),
        "DescribeSecurityGroups" => xml(StatusCode::OK, "<DescribeSecurityGroupsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><securityGroupInfo/></DescribeSecurityGroupsResponse>".into()),
        "DescribeAddresses" => xml(StatusCode::OK, "<DescribeAddressesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><addressesSet/></DescribeAddressesResponse>".into()),
        "DescribeInstances" => {
            {
                let mut t = f.throttled_once.lock().unwrap();
                if !*t {
                    *t = true;
                    return err(StatusCode::SERVICE_UNAVAILABLE, "RequestLimitExceeded");
                }
            }
            xml(StatusCode::OK, format!("<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><reservationSet><item><reservationId>r-1</reservationId><ownerId>111122223333</ownerId><instancesSet><item><instanceId>i-{region}</instanceId><instanceState><code>16</code><name>running</name></instanceState><privateIpAddress>10.0.0.5</privateIpAddress><groupSet/><tagSet/></item></instancesSet></item></reservationSet></DescribeInstancesResponse>"))
        }
        _ => err(StatusCode::BAD_REQUEST, "InvalidAction"),
    }
}

both_backends! {
    async fn aws_throttling_is_retried_a_failing_region_reported_and_expired_keys_refused(db) {
        let app = App::from_parts(Config::default(), db.store.clone());
        let fake = Fake::default();
        let base = serve(Router::new().route("/", post(ec2)).with_state(fake.clone()), &fake).await;
        let req = CloudRequest::Aws {
            regions: vec!["eu-west-3".into(), "eu-south-9".into()], profile: None, assume_roles: vec![],
            external_id: None, endpoint: Some(base.clone()), no_load_balancers: true,
        };
        let vars = [("AWS_ACCESS_KEY_ID", "AKIDEXPIRED"), ("AWS_SECRET_ACCESS_KEY", "x"), ("AWS_SESSION_TOKEN", "old")];
        let err = app.discover_cloud(&req, &tuning(&vars), Arc::new(NoProgress), "test").await.unwrap_err();
        assert!(matches!(err, AppError::Invalid(_)) && err.to_string().contains("ExpiredToken"), "{err}");

        let vars = [("AWS_ACCESS_KEY_ID", "AKIDGOOD"), ("AWS_SECRET_ACCESS_KEY", "x")];
        let r = app.discover_cloud(&req, &tuning(&vars), Arc::new(NoProgress), "test").await.unwrap();
        assert_eq!(r.throttled, 1, "RequestLimitExceeded was retried");
        let ids: Vec<&str> = r.resources.iter().map(|a| a.resource.id.as_str()).collect();
        assert_eq!(ids, ["i-eu-west-3"], "the healthy region is kept");
        let failed: Vec<(&str, bool)> = r.regions.iter().map(|o| (o.region.as_str(), o.error.as_deref().is_some_and(|e| e.contains("InternalError")))).collect();
        assert_eq!(failed, [("eu-south-9", true), ("eu-west-3", false)]);
        assert_eq!(r.resources[0].resource.account, "111122223333");
        // Each request was signed for the region it targets.
        let seen = fake.seen.lock().unwrap().clone();
        assert!(seen.contains(&"DescribeInstances eu-west-3 ec2".to_string()), "{seen:?}");
        assert!(seen.contains(&"DescribeSecurityGroups eu-south-9 ec2".to_string()), "{seen:?}");
    }
}
