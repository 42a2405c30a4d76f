//! External discovery against real local servers: an authoritative DNS server (dnslib, UDP and
//! TCP, `fixtures/dns_server.py`) serving zones with a CNAME chain, a wildcard, PTR records and
//! AXFR allowed for one zone and refused for another; and one HTTP server answering as crt.sh
//! (its JSON interface), as an RFC 6962 log (`get-sth`, `get-entries` with certificates and a
//! precertificate the test generates, and one corrupt entry) and as RDAP servers (RFC 9083
//! domain and ip network objects). On SQLite and PostgreSQL.

use std::collections::HashMap;
use std::net::TcpListener;
use std::process::Command;

use axum::Router;
use axum::extract::Query;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use vantage_app::external::{DomainRequest, Quiet};
use vantage_app::{App, Config};
use vantage_domain::{JobKind, MembershipRule};
use vantage_store::NewScope;
use vantage_test_utils::both_backends;
use vantage_test_utils::lab::{Proc, spawn_proc, wait_listening};

fn dns_server() -> (Proc, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/dns_server.py");
    let p = spawn_proc(
        Command::new(vantage_test_utils::python()).args([script, &port.to_string()]),
        tempfile::tempdir().unwrap(),
        "dns_server.py",
    );
    wait_listening(format!("127.0.0.1:{port}").parse().unwrap());
    (p, port)
}

fn cert_der(names: &[&str]) -> Vec<u8> {
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
    params.self_signed(&key).unwrap().der().to_vec()
}

/// The TBSCertificate inside a DER certificate (the first element of the outer SEQUENCE).
fn tbs_of(cert: &[u8]) -> Vec<u8> {
    fn header(b: &[u8]) -> (usize, usize) {
        let first = b[1];
        if first < 0x80 {
            (2, first as usize)
        } else {
            let n = (first & 0x7f) as usize;
            let len = b[2..2 + n]
                .iter()
                .fold(0usize, |a, x| (a << 8) | *x as usize);
            (2 + n, len)
        }
    }
    let (outer, _) = header(cert);
    let inner = &cert[outer..];
    let (h, len) = header(inner);
    inner[..h + len].to_vec()
}

fn leaf(entry_type: u16, body: &[u8]) -> String {
    use base64::Engine;
    let mut v = vec![0u8, 0u8];
    v.extend_from_slice(&1_700_000_000_000u64.to_be_bytes());
    v.extend_from_slice(&entry_type.to_be_bytes());
    if entry_type == 1 {
        v.extend_from_slice(&[7u8; 32]);
    }
    let n = body.len();
    v.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
    v.extend_from_slice(body);
    v.extend_from_slice(&[0, 0]);
    base64::engine::general_purpose::STANDARD.encode(v)
}

fn rdap_domain(name: &str, registrant: &str) -> serde_json::Value {
    serde_json::json!({
        "objectClassName": "domain", "ldhName": name.to_uppercase(), "status": ["active"],
        "events": [{"eventAction": "registration", "eventDate": "2010-03-01T00:00:00Z"},
                   {"eventAction": "expiration", "eventDate": "2027-03-01T00:00:00Z"}],
        "nameservers": [{"objectClassName": "nameserver", "ldhName": "ns.example.test"}],
        "entities": [
            {"objectClassName": "entity", "roles": ["registrar"], "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Test Registrar SAS"]]]},
            {"objectClassName": "entity", "roles": ["registrant"], "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["org", {}, "text", registrant]]]}]
    })
}

async fn web(uri: Uri, Query(q): Query<HashMap<String, String>>) -> Response {
    let path = uri.path();
    let ok = |v: serde_json::Value| {
        (
            StatusCode::OK,
            [("content-type", "application/json")],
            v.to_string(),
        )
            .into_response()
    };
    match path {
        "/crtsh/" => {
            if q.get("output").map(String::as_str) != Some("json")
                || q.get("q").map(String::as_str) != Some("%.example.test")
            {
                return ok(serde_json::json!([]));
            }
            ok(serde_json::json!([
                {"issuer_ca_id": 16418, "issuer_name": "C=US, O=Let's Encrypt, CN=R11", "common_name": "www.example.test",
                 "name_value": "www.example.test\nshop.example.test\nexample-shop.test", "id": 9001,
                 "entry_timestamp": "2026-10-01T10:00:00.123", "not_before": "2026-10-01T09:00:00", "not_after": "2026-12-30T09:00:00", "serial_number": "04aa"},
                {"issuer_ca_id": 16418, "issuer_name": "C=US, O=Let's Encrypt, CN=R11", "common_name": "*.cdn.example.test",
                 "name_value": "*.cdn.example.test", "id": 9002,
                 "entry_timestamp": "2026-10-02T10:00:00.123", "not_before": "2026-10-02T09:00:00", "not_after": "2026-12-31T09:00:00", "serial_number": "04ab"}]))
        }
        "/log/ct/v1/get-sth" => ok(
            serde_json::json!({"tree_size": 4, "timestamp": 1_700_000_000_000u64,
            "sha256_root_hash": "AAAA", "tree_head_signature": "BBBB"}),
        ),
        "/log/ct/v1/get-entries" => {
            let start: usize = q.get("start").and_then(|s| s.parse().ok()).unwrap_or(99);
            let end: usize = q.get("end").and_then(|s| s.parse().ok()).unwrap_or(0);
            let all = [
                leaf(0, &cert_der(&["portal.example.test", "example.test"])),
                leaf(1, &tbs_of(&cert_der(&["beta.example.test"]))),
                leaf(0, b"\x30\x03\x02\x01\x00"),
                leaf(0, &cert_der(&["unrelated.other.test"])),
            ];
            if start > end || end >= all.len() {
                return (StatusCode::BAD_REQUEST, "bad range").into_response();
            }
            let entries: Vec<_> = all[start..=end]
                .iter()
                .map(|l| serde_json::json!({"leaf_input": l, "extra_data": ""}))
                .collect();
            ok(serde_json::json!({"entries": entries}))
        }
        "/rdap/domain/example.test" => ok(rdap_domain("example.test", "Example Org")),
        "/rdap/domain/example-shop.test" => ok(rdap_domain("example-shop.test", "Example Org")),
        p if p.starts_with("/rdap/ip/127.") => ok(
            serde_json::json!({"objectClassName": "ip network", "handle": "NET-127-0-0-0-1",
            "startAddress": "127.0.0.0", "endAddress": "127.255.255.255", "name": "LOOPBACK", "country": "ZZ",
            "entities": [{"objectClassName": "entity", "roles": ["registrant"], "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "IANA"]]]}]}),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            [("content-type", "application/rdap+json")],
            r#"{"errorCode":404,"title":"Not Found"}"#,
        )
            .into_response(),
    }
}

both_backends! {
    async fn a_domain_s_names_registration_and_related_domains_are_found(db) {
        let app = App::from_parts(Config::default(), db.store.clone());
        let (_dns, port) = dns_server();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, Router::new().fallback(get(web))).await.unwrap() });
        let mut scope = NewScope::named("dmz");
        scope.rules = vec![MembershipRule::IpRange("127.0.0.0/24".into()), MembershipRule::Domain("example.test".into())];
        app.create_scope(&scope, "test").await.unwrap();
        let words = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(words.path(), "www\nmail\napp\napi\nnothere\nvpn\n# comment\n").unwrap();

        let mut req = DomainRequest::new(vec!["example.test".into(), "wild.test".into()]);
        req.nameservers = vec![format!("127.0.0.1:{port}").parse().unwrap()];
        req.dns_port = port;
        req.wordlist = Some(words.path().display().to_string());
        req.crtsh = Some(format!("{base}/crtsh"));
        req.ct_logs = vec![format!("{base}/log/")];
        req.rdap = Some(format!("{base}/rdap"));
        req.ranges = vec!["127.0.0.8/29".into()];
        req.reverse = true;
        req.scope = Some("dmz".into());
        req.timeout_secs = 2;
        let r = app.discover_domain(&req, &Quiet, "test").await.unwrap();

        // Records, zone transfers, wildcard.
        let ex = &r.domains[0];
        assert_eq!(ex.records.ns, ["ns.example.test"]);
        assert_eq!(ex.records.mx, ["10 mail.example.test"]);
        assert_eq!(ex.records.txt, ["v=spf1 -all"]);
        assert!(ex.records.soa.as_deref().is_some_and(|s| s.contains("hostmaster.example.test")));
        assert_eq!(ex.records.caa.len(), 1);
        assert!(ex.axfr.iter().all(|a| a.allowed) && !ex.axfr.is_empty(), "{:?}", ex.axfr);
        let wild = &r.domains[1];
        assert!(wild.axfr.iter().all(|a| !a.allowed && a.error.as_deref().is_some_and(|e| e.contains("refused"))), "{:?}", wild.axfr);
        assert_eq!(wild.wildcard, ["127.0.0.99".parse::<std::net::IpAddr>().unwrap()]);
        assert!(r.stats.wildcard_hits >= 2, "nothere/mail/app/vpn.wild.test are wildcard answers");

        // Every expected name, from the source that knows it.
        let by_name: HashMap<&str, &vantage_app::external::FoundName> = r.names.iter().map(|n| (n.name.as_str(), n)).collect();
        let has = |n: &str, src: &str| by_name.get(n).is_some_and(|f| f.sources.iter().any(|s| s == src));
        assert!(has("hidden.example.test", "axfr"), "only the zone transfer knows it");
        assert!(has("www.wild.test", "brute") && has("api.wild.test", "brute"));
        assert!(!by_name.contains_key("nothere.wild.test"), "a wildcard answer is not a name");
        assert!(has("shop.example.test", "crt.sh") && has("cdn.example.test", "crt.sh"));
        assert!(has("portal.example.test", "ct-log") && has("beta.example.test", "ct-log"), "x509 and precert entries");
        assert!(has("printer.example.test", "ptr"));
        assert!(!by_name.contains_key("unrelated.other.test"));
        assert_eq!(r.stats.ct_malformed, 1, "the corrupt log entry is skipped and counted");
        let app_name = by_name["app.example.test"];
        assert_eq!(app_name.cname, ["web.example.test", "www.example.test"]);
        assert_eq!(app_name.addresses, ["127.0.0.10".parse::<std::net::IpAddr>().unwrap()]);

        // In range → queued for a scan bounded by the scope; elsewhere → reported only.
        let vpn = by_name["vpn.example.test"];
        assert!(!vpn.in_range && vpn.asset_id.is_some());
        assert!(!r.queued_addresses.contains(&"198.51.100.7".parse().unwrap()));
        assert!(r.queued_addresses.contains(&"127.0.0.12".parse().unwrap()));
        assert!(by_name["www.example.test"].in_range && by_name["www.example.test"].scopes == ["dmz"]);
        assert!(by_name["shop.example.test"].asset_id.is_none(), "a name that does not resolve is reported, not stored");
        let queued = app.store.queued_jobs(JobKind::NetworkScan).await.unwrap();
        assert_eq!(queued.len(), 1);
        assert_eq!(Some(queued[0].0), r.scan_job);
        assert!(queued[0].1.contains("127.0.0.12") && !queued[0].1.contains("198.51.100.7"), "{}", queued[0].1);

        // Registration and related domains.
        let reg = ex.registration.as_ref().unwrap();
        assert_eq!((reg.registrar.as_deref(), reg.expires.as_deref()), (Some("Test Registrar SAS"), Some("2027-03-01T00:00:00Z")));
        assert_eq!(r.ranges[0].registration.name.as_deref(), Some("LOOPBACK"));
        assert_eq!(r.related.len(), 1, "{:?}", r.related);
        let rel = &r.related[0];
        assert_eq!(rel.domain, "example-shop.test");
        let reasons = rel.reasons.join("; ");
        assert!(reasons.contains("crt.sh id 9001") && reasons.contains("shares name servers ns.example.test")
            && reasons.contains("same registrant (Example Org)"), "{reasons}");

        // The log is followed: a second run reads nothing already read.
        req.brute = false;
        req.reverse = false;
        let again = app.discover_domain(&req, &Quiet, "test").await.unwrap();
        assert_eq!(again.stats.ct_malformed, 0);
        assert!(!again.names.iter().any(|n| n.sources.iter().any(|s| s == "ct-log")));
        // Names are merged, not duplicated.
        let www = app.store.resolve_asset("www.example.test").await.unwrap();
        assert_eq!(www.len(), 1);
    }
}
