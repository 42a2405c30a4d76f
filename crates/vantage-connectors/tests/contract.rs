//! Every connector against a local server that checks each request against the vendor's
//! documented API (vantage-test-utils' `itsm` fakes) and answers as the vendor does, errors
//! included: 401, 429 with `Retry-After`, 500, a hang past the timeout, a garbage body. SMTP runs
//! against a real SMTP server (aiosmtpd) with STARTTLS — see `smtp.rs` in vantage-app's tests.

use std::time::Duration;

use base64::Engine;
use serde_json::json;
use vantage_connectors::{Connector, External, Kind, Notice, Secrets, SendError, Ticket};
use vantage_test_utils::itsm::{Fault, Flavor, Vendor};
use zeroize::Zeroizing;

fn secrets(pairs: &[(&str, &str)]) -> Secrets {
    let mut s = Secrets::default();
    for (k, v) in pairs {
        s.0.insert(k.to_string(), Zeroizing::new(v.to_string()));
    }
    s
}

fn ticket(key: &str, priority: &str) -> Ticket {
    Ticket {
        key: key.into(),
        summary: "web-01: upgrade openssl to 3.0.15-1~deb12u1".into(),
        body: vec![
            "Asset: web-01 (debian 12)".into(),
            "Closes CVE-2024-5535, CVE-2024-9143 (1 in CISA KEV).".into(),
            "Fix: apt-get install --only-upgrade openssl".into(),
        ],
        priority: Some(priority.into()),
        due: Some("2026-12-05".into()),
        asset: "web-01".into(),
        cves: vec!["CVE-2024-5535".into(), "CVE-2024-9143".into()],
    }
}

fn notice() -> Notice {
    Notice {
        event: "alert.new_p1".into(),
        title: "New P1 on web-01: CVE-2024-3094".into(),
        lines: vec!["xz-utils 5.6.0 is backdoored; upgrade to 5.6.1+really5.4.5-1.".into()],
        severity: "critical".into(),
        facts: vec![
            ("Asset".into(), "web-01".into()),
            ("Priority".into(), "P1".into()),
        ],
    }
}

const T: Duration = Duration::from_secs(3);

/// Create, find by label, update with a comment, close by transition; the ticket in Jira holds
/// what Vantage sent.
async fn jira_lifecycle(version: u8) {
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("vantage@example.com:jira-token-s3cret")
    );
    let v = Vendor::start(Flavor::Jira {
        version,
        auth: basic,
    });
    let c = Connector::new(
        Kind::Jira,
        &json!({"url": v.url(), "project": "SEC", "api_version": version, "user": "vantage@example.com"}),
        &secrets(&[("token", "jira-token-s3cret")]),
        T,
    )
    .unwrap();
    assert!(c.test().await.unwrap().contains("vantage@example.com"));
    let t = ticket("unit:7:openssl", "P1");
    assert_eq!(c.find(&t).await.unwrap(), None);
    let ext = c.create(&t).await.unwrap();
    assert_eq!(ext.id, "SEC-1");
    assert_eq!(
        ext.url.as_deref(),
        Some(format!("{}/browse/SEC-1", v.url()).as_str())
    );
    assert_eq!(
        c.find(&t).await.unwrap(),
        Some(ext.clone()),
        "found again by its label"
    );
    let mut t2 = t.clone();
    t2.priority = Some("P2".into());
    c.update(&ext.id, &t2, "Priority P1 → P2: EPSS fell")
        .await
        .unwrap();
    c.close(&ext.id, &t2, "Fixed: verified by the scan of 2026-11-28")
        .await
        .unwrap();
    // Closing twice is harmless (no Done transition from Done).
    c.close(&ext.id, &t2, "again").await.unwrap();
    v.with(|s| {
        let rec = &s.tickets["SEC-1"];
        assert_eq!(rec["status"], "Done");
        assert_eq!(rec["priority"]["name"], "High");
        assert_eq!(rec["duedate"], "2026-12-05");
        assert!(
            rec["labels"]
                .as_array()
                .unwrap()
                .contains(&json!(t.label()))
        );
        assert!(
            s.comments
                .iter()
                .any(|(k, c)| k == "SEC-1" && c.contains("P1 → P2"))
        );
    });
    v.assert_clean();
}

#[tokio::test]
async fn jira_v3_cloud_contract() {
    jira_lifecycle(3).await;
}

#[tokio::test]
async fn jira_v2_data_center_contract() {
    jira_lifecycle(2).await;
}

#[tokio::test]
async fn jira_errors_are_classified_and_secrets_stay_out() {
    let v = Vendor::start(Flavor::Jira {
        version: 3,
        auth: "Bearer right-token".into(),
    });
    let make = |tok: &str| {
        Connector::new(
            Kind::Jira,
            &json!({"url": v.url(), "project": "SEC"}),
            &secrets(&[("token", tok)]),
            Duration::from_millis(700),
        )
        .unwrap()
    };
    let bad = make("wrong-token-XYZ");
    let e = bad.create(&ticket("k", "P3")).await.unwrap_err();
    assert!(matches!(e, SendError::Fatal(_)), "{e:?}");
    assert!(
        e.to_string().contains("401") && !e.to_string().contains("wrong-token-XYZ"),
        "{e}"
    );

    let c = make("right-token");
    v.inject([Fault::Status(429, Some(7), "rate limited".into())]);
    match c.create(&ticket("k", "P3")).await.unwrap_err() {
        SendError::Retry { after, reason } => {
            assert_eq!(after, Some(Duration::from_secs(7)));
            assert!(reason.contains("429"), "{reason}");
        }
        e => panic!("{e:?}"),
    }
    v.inject([Fault::Status(
        500,
        None,
        "{\"errorMessages\":[\"Internal server error\"]}".into(),
    )]);
    assert!(
        c.create(&ticket("k", "P3"))
            .await
            .unwrap_err()
            .is_retryable()
    );
    v.inject([Fault::Hang(Duration::from_secs(3))]);
    let e = c.create(&ticket("k", "P3")).await.unwrap_err();
    assert!(
        e.is_retryable() && e.to_string().contains("no answer in time"),
        "{e}"
    );
    v.inject([Fault::Garbage]);
    let e = c.create(&ticket("k", "P3")).await.unwrap_err();
    assert!(
        matches!(e, SendError::Fatal(_)) && e.to_string().contains("not the documented JSON"),
        "{e}"
    );
    // Nothing answers: retry, and the error names no URL.
    let gone = Connector::new(
        Kind::Jira,
        &json!({"url": "http://127.0.0.1:9", "project": "SEC"}),
        &secrets(&[("token", "t")]),
        T,
    )
    .unwrap();
    let e = gone.create(&ticket("k", "P3")).await.unwrap_err();
    assert!(
        e.is_retryable() && !e.to_string().contains("127.0.0.1:9"),
        "{e}"
    );
    v.assert_clean();
}

#[tokio::test]
async fn servicenow_table_api_contract() {
    let v = Vendor::start(Flavor::ServiceNow {
        user: "vantage.integration".into(),
        password: "sn-pass-s3cret".into(),
    });
    let c = Connector::new(
        Kind::ServiceNow,
        &json!({"url": v.url(), "user": "vantage.integration", "assignment_group": "Linux Ops"}),
        &secrets(&[("password", "sn-pass-s3cret")]),
        T,
    )
    .unwrap();
    assert!(c.test().await.is_ok());
    let t = ticket("unit:9:bash", "P2");
    assert_eq!(c.find(&t).await.unwrap(), None);
    let ext = c.create(&t).await.unwrap();
    assert_eq!(ext.id.len(), 32);
    assert_eq!(
        c.find(&t).await.unwrap().map(|e| e.id),
        Some(ext.id.clone())
    );
    c.update(&ext.id, &t, "due date moved").await.unwrap();
    c.close(&ext.id, &t, "Fixed: verified by the scan")
        .await
        .unwrap();
    v.with(|s| {
        let r = &s.tickets[&ext.id];
        assert_eq!(r["urgency"], "1");
        assert_eq!(r["impact"], "2");
        assert_eq!(r["state"], "6");
        assert_eq!(r["close_code"], "Solution provided");
        assert_eq!(r["correlation_id"], t.label());
        assert_eq!(r["assignment_group"], "Linux Ops");
        assert_eq!(s.comments.len(), 2);
    });
    let bad = Connector::new(
        Kind::ServiceNow,
        &json!({"url": v.url(), "user": "vantage.integration"}),
        &secrets(&[("password", "nope-pass")]),
        T,
    )
    .unwrap();
    let e = bad.create(&t).await.unwrap_err();
    assert!(
        matches!(e, SendError::Fatal(_))
            && e.to_string().contains("401")
            && !e.to_string().contains("nope-pass")
    );
    v.inject([Fault::Status(
        429,
        Some(3),
        "{\"error\":{\"message\":\"Rate limit exceeded\"}}".into(),
    )]);
    assert_eq!(
        match c.create(&t).await.unwrap_err() {
            SendError::Retry { after, .. } => after,
            e => panic!("{e:?}"),
        },
        Some(Duration::from_secs(3))
    );
    v.assert_clean();
}

#[tokio::test]
async fn glpi_rest_contract_with_session_renewal() {
    let v = Vendor::start(Flavor::Glpi {
        user_token: "glpi-user-s3cret".into(),
        app_token: Some("glpi-app-s3cret".into()),
    });
    let c = Connector::new(
        Kind::Glpi,
        &json!({"url": v.url(), "entity": 0}),
        &secrets(&[
            ("user_token", "glpi-user-s3cret"),
            ("app_token", "glpi-app-s3cret"),
        ]),
        T,
    )
    .unwrap();
    assert!(c.test().await.unwrap().contains("vantage"));
    let t = ticket("unit:3:sudo", "P1");
    let ext: External = c.create(&t).await.unwrap();
    assert!(
        ext.url
            .unwrap()
            .ends_with(&format!("/front/ticket.form.php?id={}", ext.id))
    );
    // The session expires on the server: the connector logs in again once and goes on.
    v.with(|s| s.requests.clear());
    v.inject([Fault::Status(
        401,
        None,
        "[\"ERROR_SESSION_TOKEN_INVALID\",\"session_token seems invalid\"]".into(),
    )]);
    c.update(&ext.id, &t, "priority confirmed").await.unwrap();
    v.with(|s| assert!(s.requests.iter().any(|r| r.uri.ends_with("/initSession"))));
    c.close(&ext.id, &t, "Fixed: verified").await.unwrap();
    v.with(|s| {
        let r = &s.tickets[&ext.id];
        assert_eq!(r["status"], 5);
        assert_eq!(r["urgency"], 5);
        assert_eq!(s.comments.len(), 2);
    });
    let bad = Connector::new(
        Kind::Glpi,
        &json!({"url": v.url()}),
        &secrets(&[("user_token", "wrong"), ("app_token", "glpi-app-s3cret")]),
        T,
    )
    .unwrap();
    let e = bad.create(&t).await.unwrap_err();
    assert!(
        matches!(e, SendError::Fatal(_)) && e.to_string().contains("ERROR_GLPI_LOGIN_USER_TOKEN"),
        "{e}"
    );
    v.inject([Fault::Status(500, None, "oops".into())]);
    assert!(c.create(&t).await.unwrap_err().is_retryable());
    v.assert_clean();
}

#[tokio::test]
async fn teams_adaptive_card_contract() {
    let v = Vendor::start(Flavor::Teams);
    let c = Connector::new(Kind::Teams, &json!({}), &secrets(&[("url", &v.url())]), T).unwrap();
    c.notify(&notice()).await.unwrap();
    c.test().await.unwrap();
    v.with(|s| {
        assert_eq!(s.messages.len(), 2);
        let card = &s.messages[0]["attachments"][0]["content"];
        assert_eq!(card["body"][0]["text"], "New P1 on web-01: CVE-2024-3094");
        assert_eq!(card["body"][1]["facts"][0]["value"], "web-01");
    });
    v.inject([Fault::Status(429, Some(2), "Too Many Requests".into())]);
    let e = c.notify(&notice()).await.unwrap_err();
    assert!(e.is_retryable());
    assert!(
        !e.to_string().contains("SECRETSIG"),
        "the webhook URL is a secret: {e}"
    );
    let wrong = Connector::new(
        Kind::Teams,
        &json!({}),
        &secrets(&[("url", &format!("http://{}/webhookb2/x/WRONG", v.addr))]),
        T,
    )
    .unwrap();
    let e = wrong.notify(&notice()).await.unwrap_err();
    assert!(
        matches!(e, SendError::Fatal(_)) && !e.to_string().contains("WRONG"),
        "{e}"
    );
    v.assert_clean();
}

#[tokio::test]
async fn slack_webhook_contract() {
    let v = Vendor::start(Flavor::Slack);
    let c = Connector::new(Kind::Slack, &json!({}), &secrets(&[("url", &v.url())]), T).unwrap();
    c.notify(&notice()).await.unwrap();
    v.with(|s| {
        let m = &s.messages[0];
        assert!(m["text"].as_str().unwrap().contains("New P1 on web-01"));
        assert_eq!(m["blocks"][0]["type"], "header");
    });
    v.inject([Fault::Status(429, Some(30), "rate_limited".into())]);
    match c.notify(&notice()).await.unwrap_err() {
        SendError::Retry { after, .. } => assert_eq!(after, Some(Duration::from_secs(30))),
        e => panic!("{e:?}"),
    }
    v.inject([Fault::Status(410, None, "channel_is_archived".into())]);
    let e = c.notify(&notice()).await.unwrap_err();
    assert!(matches!(e, SendError::Fatal(_)) && e.to_string().contains("channel_is_archived"));
    assert!(!e.to_string().contains("XXXXSECRETXXXX"));
    // A Slack-flavoured connector refuses ticket calls clearly.
    assert!(
        c.create(&ticket("k", "P1"))
            .await
            .unwrap_err()
            .to_string()
            .contains("does not keep tickets")
    );
    v.assert_clean();
}

#[tokio::test]
async fn webhook_is_signed_with_hmac_sha256() {
    let v = Vendor::start(Flavor::Webhook {
        key: "whk-s3cret".into(),
    });
    let c = Connector::new(
        Kind::Webhook,
        &json!({"url": format!("{}/hooks/vantage", v.url())}),
        &secrets(&[("hmac_key", "whk-s3cret")]),
        T,
    )
    .unwrap();
    c.notify(&notice()).await.unwrap();
    let ext = c.create(&ticket("unit:1:curl", "P2")).await.unwrap();
    assert_eq!(ext.id, "unit:1:curl");
    c.close(&ext.id, &ticket("unit:1:curl", "P2"), "fixed")
        .await
        .unwrap();
    v.with(|s| {
        assert_eq!(s.messages.len(), 3);
        assert_eq!(s.messages[1]["event"], "ticket.created");
        assert_eq!(s.messages[2]["comment"], "fixed");
    });
    let forged = Connector::new(
        Kind::Webhook,
        &json!({"url": v.url()}),
        &secrets(&[("hmac_key", "other")]),
        T,
    )
    .unwrap();
    let e = forged.notify(&notice()).await.unwrap_err();
    assert!(
        e.to_string().contains("401") && !e.to_string().contains("other"),
        "{e}"
    );
    v.assert_clean();
}
