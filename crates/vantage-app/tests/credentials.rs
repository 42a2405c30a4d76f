//! The credentials vault on SQLite and PostgreSQL: secrets sealed before they reach the
//! database, unsealed only with the right key and for the right credential, never listed.

use vantage_app::{App, AppError, Config};
use vantage_domain::CredentialKind;
use vantage_test_utils::both_backends;

fn config(dir: &std::path::Path) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        ..Default::default()
    }
}

both_backends! {
    async fn secrets_are_sealed_listed_without_secrets_and_refused_with_a_wrong_key(db) {
        let dir = tempfile::tempdir().unwrap();
        let app = App::from_parts(config(dir.path()), db.store.clone());
        // A real key made by ssh-keygen.
        let key = dir.path().join("id_ed25519");
        let out = std::process::Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&key).output().unwrap();
        assert!(out.status.success());
        let pem = std::fs::read(&key).unwrap();
        let c = app.add_credential("prod-root", CredentialKind::SshKey, "root", &pem, "test").await.unwrap();
        app.add_credential("db", CredentialKind::Password, "admin", b"s3cret-Passw0rd", "test").await.unwrap();

        // The key file was created, private to its owner.
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("master.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // Listed without secrets; the database holds only sealed text.
        let listed = serde_json::to_string(&app.credentials().await.unwrap()).unwrap();
        assert!(listed.contains("prod-root") && !listed.contains("s3cret") && !listed.contains("PRIVATE"), "{listed}");
        let (_, sealed) = db.store.sealed_credential("db").await.unwrap().unwrap();
        assert!(sealed.starts_with("v1:") && !sealed.contains("s3cret"), "{sealed}");
        // Unsealed exactly, for a collector.
        let (got, secret) = app.credential_secret("prod-root").await.unwrap();
        assert_eq!((got.id, got.username.as_str()), (c.id, "root"));
        assert_eq!(secret.as_slice(), pem.as_slice());
        assert_eq!(app.credential_secret("db").await.unwrap().1.as_slice(), b"s3cret-Passw0rd");

        // Another installation's key: named, not guessed at.
        let mut other = config(dir.path());
        other.secrets.master_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into();
        let e = App::from_parts(other, db.store.clone()).credential_secret("db").await.unwrap_err();
        assert!(e.to_string().contains("sealed under master key"), "{e}");
        // A sealed secret moved to another credential does not open.
        let (_, pw) = db.store.sealed_credential("db").await.unwrap().unwrap();
        db.store.add_credential("moved", CredentialKind::Password, "x", &pw, vantage_test_utils::t0()).await.unwrap();
        let e = app.credential_secret("moved").await.unwrap_err();
        assert!(e.to_string().contains("does not decrypt"), "{e}");

        // Bad input changes nothing.
        assert!(matches!(app.add_credential("prod-root", CredentialKind::Password, "", b"x", "t").await, Err(AppError::Store(_))));
        let e = app.add_credential("k", CredentialKind::SshKey, "", b"not a key", "t").await.unwrap_err();
        assert!(e.to_string().contains("not a private key"), "{e}");
        assert!(app.add_credential("empty", CredentialKind::Password, "", b"", "t").await.is_err());
        assert_eq!(app.credentials().await.unwrap().len(), 3);

        app.remove_credential("moved", "test").await.unwrap();
        assert!(matches!(app.remove_credential("moved", "test").await, Err(AppError::NotFound(_))));
        let audit = db.store.recent_audit(20).await.unwrap();
        assert!(audit.iter().any(|a| a.action == "credential.add"));
        assert!(audit.iter().all(|a| !format!("{a:?}").contains("s3cret")));
    }
}
