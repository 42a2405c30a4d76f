//! `scan image` on SQLite and PostgreSQL, with images the test builds: an OCI layout (gzip
//! layers, a whiteout, a symlinked os-release), the same image turned into a `docker save`
//! archive by skopeo and pushed by skopeo to a real registry (Debian's docker-registry) on a
//! loopback address — all three read as one asset with the same packages and findings; an
//! Alpine image with vuls' real installed database judged by the real Alpine secdb; and hostile
//! archives refused.

use std::collections::BTreeSet;

use vantage_app::images::ImageRequest;
use vantage_app::{App, AppError, Config};
use vantage_scan::ScanError;
use vantage_scan::image::{ImageError, ImageLimits, RegistryOptions};
use vantage_test_utils::lab::loopback_net;
use vantage_test_utils::oci::{Entry, layer_tar, registry, skopeo_copy, write_layout};
use vantage_test_utils::{both_backends, test_data, vuls_inventory};

const OS_RELEASE: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n";

fn stanza(name: &str, source: &str, version: &str) -> String {
    format!(
        "Package: {name}\nStatus: install ok installed\nArchitecture: amd64\nSource: {source}\nVersion: {version}\n\n"
    )
}

/// A distroless-style Debian image: base layer with os-release (behind a symlink) and three
/// packages in status.d; the second layer removes one package with a whiteout and adds one.
fn debian_layers() -> Vec<Vec<u8>> {
    vec![
        layer_tar(&[
            Entry::Dir("etc"),
            Entry::File("usr/lib/os-release", OS_RELEASE.into()),
            Entry::Symlink("etc/os-release", "../usr/lib/os-release"),
            Entry::File(
                "var/lib/dpkg/status.d/base-files",
                stanza("base-files", "base-files", "12.4+deb12u5").into(),
            ),
            Entry::File(
                "var/lib/dpkg/status.d/libssl3",
                stanza("libssl3", "openssl", "3.0.11-1~deb12u2").into(),
            ),
            Entry::File(
                "var/lib/dpkg/status.d/curl",
                stanza("curl", "curl", "7.88.1-10+deb12u5").into(),
            ),
            Entry::File("usr/bin/big", vec![7u8; 300_000]),
        ]),
        layer_tar(&[
            Entry::Whiteout("var/lib/dpkg/status.d/curl"),
            Entry::File(
                "var/lib/dpkg/status.d/zlib1g",
                stanza("zlib1g", "zlib", "1:1.2.13.dfsg-1").into(),
            ),
        ]),
    ]
}

fn request() -> ImageRequest {
    ImageRequest::default()
}

fn names(r: &vantage_app::images::ImageInventoryReport) -> BTreeSet<String> {
    r.packages
        .iter()
        .map(|p| format!("{} {}", p.name, p.version))
        .collect()
}

both_backends! {
    async fn an_image_is_one_asset_whether_read_from_a_layout_an_archive_or_a_registry(db) {
        let app = App::from_parts(Config::default(), db.store.clone());
        // Our own advisory: openssl fixed after the image's version.
        let feed = tempfile::tempdir().unwrap();
        let dsa = feed.path().join("DSA-list");
        std::fs::write(&dsa, "[27 Nov 2026] DSA-9998-1 openssl - security update\n\t{CVE-2099-0002}\n\t[bookworm] - openssl 3.0.13-1~deb12u1\n").unwrap();
        app.import_feed(&dsa, &Default::default()).await.unwrap();

        let work = tempfile::tempdir().unwrap();
        let layout = work.path().join("layout");
        let digest = write_layout(&layout, "1.0", &debian_layers(), true);
        let from_layout = app.scan_image(layout.to_str().unwrap(), &request()).await.unwrap();
        let want: BTreeSet<String> = ["base-files 12.4+deb12u5", "libssl3 3.0.11-1~deb12u2", "zlib1g 1:1.2.13.dfsg-1"]
            .into_iter().map(String::from).collect();
        assert_eq!(names(&from_layout), want);
        assert_eq!(from_layout.image.config_digest, digest);
        assert_eq!((from_layout.image.format, from_layout.image.layers), ("oci-layout", 2));
        assert_eq!(from_layout.inventory.os.as_deref(), Some("debian:12"));
        assert_eq!(from_layout.inventory.findings, 1);
        assert_eq!(from_layout.inventory.urgent.len() + usize::from(from_layout.inventory.by_priority[2] + from_layout.inventory.by_priority[3] + from_layout.inventory.by_priority[4] > 0), 1);

        // skopeo makes a docker save archive of it.
        let archive = work.path().join("image.tar");
        skopeo_copy(&format!("oci:{}:1.0", layout.display()), &format!("docker-archive:{}:lab/debian:1.0", archive.display()));
        let from_archive = app.scan_image(archive.to_str().unwrap(), &request()).await.unwrap();
        assert_eq!(from_archive.image.format, "docker-archive");
        assert_eq!(from_archive.image.repo_tags, ["docker.io/lab/debian:1.0"]); // as skopeo names it
        assert_eq!(names(&from_archive), want);

        // skopeo pushes it to a real registry; Vantage pulls it.
        let net = loopback_net();
        let (_reg, addr) = registry(&format!("{net}1"), 5000);
        skopeo_copy(&format!("oci:{}:1.0", layout.display()), &format!("docker://{addr}/lab/debian:1.0"));
        let pull = ImageRequest {
            registry: RegistryOptions { insecure: vec![addr.to_string()], ..Default::default() },
            ..request()
        };
        let from_registry = app.scan_image(&format!("{addr}/lab/debian:1.0"), &pull).await.unwrap();
        assert_eq!(from_registry.image.format, "registry");
        assert!(from_registry.image.manifest_digest.as_deref().is_some_and(|d| d.starts_with("sha256:")));
        assert_eq!(names(&from_registry), want);

        // One image, one asset (by its digest), whatever the source.
        assert_eq!(from_archive.image.config_digest, from_registry.image.config_digest);
        assert_eq!(from_archive.inventory.asset_id, from_registry.inventory.asset_id);
        let asset = db.store.asset(vantage_domain::AssetId(from_registry.inventory.asset_id)).await.unwrap().unwrap();
        assert_eq!(asset.kind, vantage_domain::AssetKind::ContainerImage);
        assert_eq!(from_registry.inventory.findings, 1);

        // A reference nothing answers for: a clear registry error.
        let e = app.scan_image(&format!("{addr}/lab/missing:1.0"), &pull).await.unwrap_err();
        assert!(e.to_string().contains("registry") && e.to_string().contains("missing"), "{e}");
    }
}

both_backends! {
    async fn an_alpine_image_is_judged_by_the_alpine_secdb(db) {
        let app = App::from_parts(Config::default(), db.store.clone());
        app.import_feed(&test_data("distro/alpine-secdb/v3.19-main.json.gz"), &Default::default()).await.unwrap();
        let mut installed = String::new();
        for p in vuls_inventory("packages/vuls-integration/alpine_319.packages.json.gz") {
            installed.push_str(&format!("C:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nP:{}\nV:{}\nA:x86_64\no:{}\n\n", p.name, p.version, p.source));
        }
        let layers = vec![layer_tar(&[
            Entry::File("etc/os-release", "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\n".into()),
            Entry::File("lib/apk/db/installed", installed.clone().into_bytes()),
        ])];
        let work = tempfile::tempdir().unwrap();
        write_layout(work.path(), "3.19", &layers, false);
        let r = app.scan_image(work.path().to_str().unwrap(), &request()).await.unwrap();
        assert_eq!(r.package_source, "apk-installed");
        assert_eq!(r.inventory.os.as_deref(), Some("alpine:3.19"));
        // The same findings as importing the installed database by hand.
        let file = work.path().join("installed");
        std::fs::write(&file, &installed).unwrap();
        let by_hand = app.import_inventory("by-hand", Some("alpine:3.19"), &file).await.unwrap();
        assert!(r.inventory.findings >= 10, "{}", r.inventory.findings);
        assert_eq!(r.inventory.findings, by_hand.findings);
    }
}

fn image_error(e: AppError) -> ImageError {
    match e {
        AppError::Scan(ScanError::Image(e)) => e,
        other => panic!("expected an image error, got {other}"),
    }
}

#[tokio::test]
async fn hostile_archives_are_refused_and_nothing_is_stored() {
    let db = vantage_test_utils::TestDb::sqlite().await;
    let app = App::from_parts(Config::default(), db.store.clone());
    let work = tempfile::tempdir().unwrap();

    // A symlink that climbs out of the image, on the way to os-release.
    let escape = work.path().join("escape");
    write_layout(
        &escape,
        "x",
        &[layer_tar(&[
            Entry::Symlink("etc/os-release", "../../../../../etc/os-release"),
            Entry::File("var/lib/dpkg/status", stanza("a", "a", "1").into()),
        ])],
        true,
    );
    let e = image_error(
        app.scan_image(escape.to_str().unwrap(), &request())
            .await
            .unwrap_err(),
    );
    assert!(
        matches!(e, ImageError::Unsafe(..)) && e.to_string().contains("climbs out"),
        "{e}"
    );

    // A layer entry with `..` (written into the header by hand: tar builders refuse it).
    let mut h = tar::Header::new_old();
    h.as_old_mut().name[..21].copy_from_slice(b"../../../tmp/pwned.sh");
    h.set_size(0);
    h.set_mode(0o755);
    h.set_cksum();
    let mut evil = h.as_bytes().to_vec();
    evil.extend_from_slice(&[0; 1024]);
    let traversal = work.path().join("traversal");
    write_layout(&traversal, "x", &[evil], false);
    let e = image_error(
        app.scan_image(traversal.to_str().unwrap(), &request())
            .await
            .unwrap_err(),
    );
    assert!(
        e.to_string().contains("../../../tmp/pwned.sh") && e.to_string().contains("refused"),
        "{e}"
    );
    assert!(!std::path::Path::new("/tmp/pwned.sh").exists());

    // A decompression bomb: 256 MiB of zeros in a small gzip layer, with a 64 MiB budget.
    let bomb_tar = {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(256 << 20);
        h.set_mode(0o644);
        b.append_data(
            &mut h,
            "zeros",
            std::io::Read::take(std::io::repeat(0), 256 << 20),
        )
        .unwrap();
        b.into_inner().unwrap()
    };
    let bomb = work.path().join("bomb");
    write_layout(&bomb, "x", &[bomb_tar], true);
    let small = ImageRequest {
        limits: ImageLimits {
            max_unpacked: 64 << 20,
            ..Default::default()
        },
        ..request()
    };
    let e = image_error(
        app.scan_image(bomb.to_str().unwrap(), &small)
            .await
            .unwrap_err(),
    );
    assert!(matches!(e, ImageError::TooLarge(..)), "{e}");

    // A truncated archive (a docker save cut in the middle of a layer).
    let good = work.path().join("good");
    write_layout(&good, "1", &debian_layers(), false);
    let archive = work.path().join("good.tar");
    skopeo_copy(
        &format!("oci:{}:1", good.display()),
        &format!("docker-archive:{}:lab/x:1", archive.display()),
    );
    let bytes = std::fs::read(&archive).unwrap();
    let cut = work.path().join("cut.tar");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let e = app
        .scan_image(cut.to_str().unwrap(), &request())
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("truncated")
            || e.to_string().contains("not in the archive")
            || e.to_string().contains("manifest.json"),
        "{e}"
    );
    // Not an image at all.
    let junk = work.path().join("junk.tar");
    std::fs::write(&junk, b"hello").unwrap();
    assert!(
        app.scan_image(junk.to_str().unwrap(), &request())
            .await
            .is_err()
    );
    assert_eq!(db.store.count_live_assets().await.unwrap(), 0);
}

both_backends! {
    async fn an_rpm_image_lists_what_rpm_lists(db) {
        let app = App::from_parts(Config::default(), db.store.clone());
        let work = tempfile::tempdir().unwrap();
        let dbdir = vantage_test_utils::oci::rpmdb(work.path(), &[
            ("openssl-libs", Some(1), "3.0.7", "27.el9"),
            ("bash", None, "5.1.8", "9.el9"),
        ]);
        // The oracle: rpm itself (the epoch shown only when there is one, as inventories keep it).
        let out = std::process::Command::new("rpm").arg("--dbpath").arg(&dbdir)
            .args(["-qa", "--qf", "%{NAME}\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\t%{ARCH}\n"]).output().unwrap();
        let want: BTreeSet<String> = String::from_utf8(out.stdout).unwrap().lines().map(String::from).collect();
        assert_eq!(want.len(), 2, "{want:?}");
        let sqlite = std::fs::read(dbdir.join("rpmdb.sqlite")).unwrap();
        let layout = work.path().join("layout");
        // Fedora-style: /var/lib/rpm is a symlink to /usr/lib/sysimage/rpm.
        write_layout(&layout, "9", &[layer_tar(&[
            Entry::File("etc/os-release", "NAME=\"Rocky Linux\"\nID=\"rocky\"\nVERSION_ID=\"9.3\"\n".into()),
            Entry::File("usr/lib/sysimage/rpm/rpmdb.sqlite", sqlite),
            Entry::Symlink("var/lib/rpm", "../../usr/lib/sysimage/rpm"),
        ])], true);
        let r = app.scan_image(layout.to_str().unwrap(), &request()).await.unwrap();
        assert_eq!(r.package_source, "rpm-sqlite");
        let got: BTreeSet<String> = r.packages.iter()
            .map(|p| format!("{}\t{}\t{}", p.name, p.version, p.arch.clone().unwrap_or_default()))
            .collect();
        assert_eq!(got, want);
        assert!(r.inventory.os.as_deref().is_some_and(|o| o.starts_with("rocky:9")), "{:?}", r.inventory.os);
    }
}

/// The token service of the Docker registry token authentication specification (what
/// auth.docker.io is to Docker Hub): `GET realm?service=S&scope=repository:NAME:ACTIONS` with
/// HTTP basic credentials answers `{"token": JWT}`; the JWT is RS256-signed by `openssl` with the
/// certificate the real registry trusts (`rootcertbundle`), carried in the `x5c` header.
mod token_service {
    use std::sync::{Arc, Mutex};

    use axum::extract::{Query, State};
    use axum::http::{HeaderMap, StatusCode};
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

    /// A token request seen: service, scopes, whether the credentials were right.
    pub type Seen = (String, Vec<String>, bool);

    #[derive(Clone)]
    pub struct Issuer {
        pub key: std::path::PathBuf,
        pub cert_der: Vec<u8>,
        pub seen: Arc<Mutex<Vec<Seen>>>,
    }

    pub const USER: &str = "lab";
    pub const PASSWORD: &str = "registry-Secret-42";

    pub async fn token(
        State(i): State<Issuer>,
        headers: HeaderMap,
        Query(q): Query<Vec<(String, String)>>,
    ) -> (StatusCode, String) {
        let service = q
            .iter()
            .find(|(k, _)| k == "service")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let scopes: Vec<String> = q
            .iter()
            .filter(|(k, _)| k == "scope")
            .map(|(_, v)| v.clone())
            .collect();
        let want = format!("Basic {}", STANDARD.encode(format!("{USER}:{PASSWORD}")));
        let authed =
            headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(want.as_str());
        i.seen
            .lock()
            .unwrap()
            .push((service.clone(), scopes.clone(), authed));
        if !authed || service != "lab-registry" {
            return (
                StatusCode::UNAUTHORIZED,
                r#"{"details":"incorrect username or password"}"#.into(),
            );
        }
        let access: Vec<serde_json::Value> = scopes
            .iter()
            .filter_map(|s| {
                let mut p = s.splitn(3, ':');
                let (kind, name, actions) = (p.next()?, p.next()?, p.next()?);
                Some(serde_json::json!({"type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>()}))
            })
            .collect();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [STANDARD.encode(&i.cert_der)]});
        let claims = serde_json::json!({"iss": "lab-issuer", "sub": USER, "aud": "lab-registry",
            "exp": now + 600, "nbf": now - 60, "iat": now, "jti": format!("jti-{now}-{}", scopes.len()), "access": access});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut child = std::process::Command::new("openssl")
            .args(["dgst", "-sha256", "-binary", "-sign"])
            .arg(&i.key)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
        let sig = child.wait_with_output().unwrap().stdout;
        let jwt = format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig));
        (
            StatusCode::OK,
            serde_json::json!({"token": jwt, "access_token": jwt, "expires_in": 600}).to_string(),
        )
    }
}

both_backends! {
    async fn a_registry_with_token_authentication_is_pulled_with_credentials(db) {
        use std::sync::{Arc, Mutex};
        let app = App::from_parts(Config::default(), db.store.clone());
        let work = tempfile::tempdir().unwrap();
        let cert = vantage_test_utils::lab::openssl_cert(work.path(), "lab-token", 2048, "sha256");
        let der = std::process::Command::new("openssl").args(["x509", "-outform", "DER", "-in"]).arg(&cert.cert).output().unwrap().stdout;
        let issuer = token_service::Issuer { key: cert.key.clone(), cert_der: der, seen: Arc::new(Mutex::new(vec![])) };
        let net = loopback_net();
        // The token service runs on a thread of its own: skopeo below blocks this test's thread.
        let listener = std::net::TcpListener::bind(format!("{net}2:0")).unwrap();
        listener.set_nonblocking(true).unwrap();
        let realm = format!("http://{}/token", listener.local_addr().unwrap());
        let router = axum::Router::new().route("/token", axum::routing::get(token_service::token)).with_state(issuer.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, router).await.unwrap()
            })
        });
        let auth = format!(
            "auth:\n  token:\n    realm: {realm}\n    service: lab-registry\n    issuer: lab-issuer\n    rootcertbundle: {}\n",
            cert.cert.display()
        );
        let (_reg, addr) = vantage_test_utils::oci::registry_with(&format!("{net}1"), 5000, &auth);
        let layout = work.path().join("layout");
        write_layout(&layout, "1.0", &debian_layers(), true);
        let creds = format!("{}:{}", token_service::USER, token_service::PASSWORD);
        vantage_test_utils::oci::skopeo_copy_with(
            &format!("oci:{}:1.0", layout.display()),
            &format!("docker://{addr}/lab/private:1.0"),
            &["--dest-creds", &creds],
        );

        let reference = format!("{addr}/lab/private:1.0");
        // Without credentials the token service refuses, and so does the registry.
        let anonymous = ImageRequest { registry: RegistryOptions { insecure: vec![addr.to_string()], ..Default::default() }, ..request() };
        let e = app.scan_image(&reference, &anonymous).await.unwrap_err();
        assert!(e.to_string().contains("registry") && !e.is_bad_input(), "{e}");
        // With them: the token dance, then the pull.
        let login = vantage_scan::image::RegistryLogin::Basic(token_service::USER.into(), zeroize::Zeroizing::new(token_service::PASSWORD.into()));
        let authed = ImageRequest { registry: RegistryOptions { insecure: vec![addr.to_string()], login }, ..request() };
        let r = app.scan_image(&reference, &authed).await.unwrap();
        assert_eq!(r.packages.len(), 3);
        let seen = issuer.seen.lock().unwrap().clone();
        assert!(
            seen.iter().any(|(service, scopes, authed)| service == "lab-registry" && *authed && scopes.iter().any(|s| s == "repository:lab/private:pull")),
            "{seen:?}"
        );
    }
}

#[tokio::test]
async fn a_registry_with_basic_authentication_is_pulled_with_credentials() {
    let db = vantage_test_utils::TestDb::sqlite().await;
    let app = App::from_parts(Config::default(), db.store.clone());
    let work = tempfile::tempdir().unwrap();
    // Apache's htpasswd makes the bcrypt file the registry checks.
    let file = work.path().join("htpasswd");
    let out = std::process::Command::new("htpasswd")
        .args(["-Bbc"])
        .arg(&file)
        .args(["lab", "basic-Secret-7"])
        .output()
        .expect("htpasswd (install apache2-utils)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let net = loopback_net();
    let auth = format!(
        "auth:\n  htpasswd:\n    realm: lab\n    path: {}\n",
        file.display()
    );
    let (_reg, addr) = vantage_test_utils::oci::registry_with(&format!("{net}1"), 5000, &auth);
    let layout = work.path().join("layout");
    write_layout(&layout, "1.0", &debian_layers(), true);
    vantage_test_utils::oci::skopeo_copy_with(
        &format!("oci:{}:1.0", layout.display()),
        &format!("docker://{addr}/lab/basic:1.0"),
        &["--dest-creds", "lab:basic-Secret-7"],
    );
    let reference = format!("{addr}/lab/basic:1.0");
    let anonymous = ImageRequest {
        registry: RegistryOptions {
            insecure: vec![addr.to_string()],
            ..Default::default()
        },
        ..request()
    };
    let e = app.scan_image(&reference, &anonymous).await.unwrap_err();
    assert!(e.to_string().contains("registry"), "{e}");
    let login = vantage_scan::image::RegistryLogin::Basic(
        "lab".into(),
        zeroize::Zeroizing::new("basic-Secret-7".into()),
    );
    let authed = ImageRequest {
        registry: RegistryOptions {
            insecure: vec![addr.to_string()],
            login,
        },
        ..request()
    };
    let r = app.scan_image(&reference, &authed).await.unwrap();
    assert_eq!(r.packages.len(), 3);
}
