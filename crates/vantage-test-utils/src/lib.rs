//! Test helpers: a fresh, migrated database per test on either backend, and small builders.
//!
//! PostgreSQL tests create their own database (`vantage_test_<random>`) through the server named
//! by `VANTAGE_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/postgres`) and drop it
//! when the [`TestDb`] goes out of scope, even when the test panics, so runs never collide.
//! There is no silent skip: if PostgreSQL is unreachable the PostgreSQL tests fail and say why.
#![forbid(unsafe_code)]

pub mod itsm;
pub mod lab;
pub mod oci;

use rand::Rng;
use sqlx::Connection;
use tempfile::TempDir;
use time::OffsetDateTime;
use vantage_domain::{
    AssetId, AssetKind, ComponentKind, Evidence, Identifier, IdentifierKind, NewAsset, NewFinding,
    VulnId,
};
use vantage_store::{Backend, ConnectOptions, Store};

/// Environment variable naming the PostgreSQL server used by tests.
pub const POSTGRES_ENV: &str = "VANTAGE_TEST_POSTGRES";
const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The admin URL of the test PostgreSQL server.
pub fn postgres_admin_url() -> String {
    std::env::var(POSTGRES_ENV).unwrap_or_else(|_| DEFAULT_POSTGRES.to_string())
}

/// A migrated database that lives as long as this value.
pub struct TestDb {
    /// The store on it.
    pub store: Store,
    /// The URL it was opened with.
    pub url: String,
    dir: Option<TempDir>,
    pg_database: Option<String>,
}

impl TestDb {
    /// A fresh database on the given backend.
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => Self::sqlite().await,
            Backend::Postgres => Self::postgres().await,
        }
    }

    /// A fresh SQLite database file in a temporary directory.
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("vantage.db").display());
        let store = open(&url).await;
        TestDb {
            store,
            url,
            dir: Some(dir),
            pg_database: None,
        }
    }

    /// A fresh PostgreSQL database on the test server.
    pub async fn postgres() -> TestDb {
        let admin = postgres_admin_url();
        let name = format!("vantage_test_{:016x}", rand::rng().random::<u64>());
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| {
                panic!("PostgreSQL tests need a server at {admin} (set {POSTGRES_ENV}): {e}")
            });
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create the test database");
        conn.close().await.ok();
        let url = replace_database(&admin, &name);
        let store = open(&url).await;
        TestDb {
            store,
            url,
            dir: None,
            pg_database: Some(name),
        }
    }

    /// The data directory of a SQLite test database.
    pub fn dir(&self) -> Option<&std::path::Path> {
        self.dir.as_ref().map(TempDir::path)
    }
}

async fn open(url: &str) -> Store {
    let store = Store::connect(url, &ConnectOptions::default())
        .await
        .expect("open the test database");
    store.migrate().await.expect("migrate the test database");
    store
}

/// The same server URL with another database name.
pub fn replace_database(url: &str, db: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.pg_database.take() else {
            return;
        };
        let admin = postgres_admin_url();
        // Dropping needs async IO; run it on a private runtime in its own thread so it works
        // from inside or outside a Tokio runtime, and after a panic.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&admin).await.ok()?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await
                .ok()
            })
        })
        .join();
    }
}

/// Runs each test body once on SQLite and once on PostgreSQL, as `<name>::sqlite` and
/// `<name>::postgres`. The body sees the database as `$db: TestDb`.
#[macro_export]
macro_rules! both_backends {
    ($( $(#[$meta:meta])* async fn $name:ident($db:ident) $body:block )*) => {
        $(
            $(#[$meta])*
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                #[tokio::test]
                async fn sqlite() {
                    let $db = $crate::TestDb::sqlite().await;
                    $body
                }
                #[tokio::test]
                async fn postgres() {
                    let $db = $crate::TestDb::postgres().await;
                    $body
                }
            }
        )*
    };
}

/// The vulnerability ids of an asset's open findings.
pub async fn open_vuln_ids(store: &Store, asset: i64) -> std::collections::BTreeSet<String> {
    let f = vantage_domain::FindingFilter {
        asset: Some(vantage_domain::AssetId(asset)),
        limit: 1000,
        ..Default::default()
    };
    store
        .list_findings(&f)
        .await
        .expect("list findings")
        .items
        .into_iter()
        .map(|f| f.vuln_id.as_str().to_string())
        .collect()
}

/// A fixed instant, so tests do not depend on the clock.
pub fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_790_000_000).expect("valid timestamp")
}

/// A host asset observation with one IP identifier.
pub fn host(name: &str, ip: &str, seen_at: OffsetDateTime) -> NewAsset {
    NewAsset {
        kind: AssetKind::Host,
        name: name.to_string(),
        os: Some("debian:12".into()),
        identifiers: vec![
            Identifier::new(IdentifierKind::Ip, ip),
            Identifier::new(IdentifierKind::Hostname, name),
        ],
        tags: vec![],
        seen_at,
    }
}

/// A package finding of `cve` on `asset`.
pub fn package_finding(
    asset: AssetId,
    cve: &str,
    package: &str,
    seen_at: OffsetDateTime,
) -> NewFinding {
    NewFinding {
        asset_id: asset,
        vuln_id: cve.parse::<VulnId>().expect("valid CVE id"),
        evidence: Evidence {
            component_kind: ComponentKind::Package,
            component: package.to_string(),
            package_id: None,
            service_id: None,
            installed_version: Some("1.0-1".into()),
            fixed_version: Some("1.0-2".into()),
            source: "test".into(),
            rule: "installed 1.0-1 < fixed 1.0-2".into(),
            advisory: None,
            confidence: Default::default(),
        },
        priority: None,
        score: None,
        seen_at,
    }
}

#[cfg(test)]
mod tests {
    use super::replace_database;

    #[test]
    fn database_names_are_replaced() {
        assert_eq!(
            replace_database("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(replace_database("postgres://u@h", "x"), "postgres://u@h/x");
        assert_eq!(
            replace_database("postgres://u@h/db?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }
}

/// A file of the shared public data (`$VANTAGE_TEST_DATA`, default `../shared/data` beside the
/// repository).
pub fn test_data(rel: &str) -> std::path::PathBuf {
    std::env::var("VANTAGE_TEST_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
        })
        .join(rel)
}

/// One installed package of a vuls integration inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VulsPackage {
    /// Binary package name.
    pub name: String,
    /// Installed version.
    pub version: String,
    /// Source package (Debian source, Alpine origin); the name when the file does not say.
    pub source: String,
    /// Source version; the version when the file does not say.
    pub source_version: String,
}

/// Reads a vuls integration inventory (`packages/vuls-integration/*.packages.json.gz`):
/// its packages with their source package (from `srcPackages[].binaryNames`).
pub fn vuls_inventory(rel: &str) -> Vec<VulsPackage> {
    use std::io::Read;
    let path = test_data(rel);
    let mut text = String::new();
    flate2::read::GzDecoder::new(
        std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .read_to_string(&mut text)
    .unwrap();
    let inv: serde_json::Value = serde_json::from_str(&text).unwrap();
    let text_of = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let mut source = std::collections::HashMap::new();
    for s in inv["srcPackages"].as_array().into_iter().flatten() {
        for b in s["binaryNames"].as_array().into_iter().flatten() {
            source.insert(text_of(b), (text_of(&s["name"]), text_of(&s["version"])));
        }
    }
    inv["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let (name, version) = (text_of(&p["name"]), text_of(&p["version"]));
            let (source, source_version) = source
                .get(&name)
                .cloned()
                .unwrap_or_else(|| (name.clone(), version.clone()));
            VulsPackage {
                name,
                version,
                source,
                source_version,
            }
        })
        .collect()
}

/// The Python interpreter of reference scripts: `$VANTAGE_PYTHON`, default the virtual
/// environment `.ci/run` creates (with univers, packaging, python-semver, cvss).
pub fn python() -> String {
    std::env::var("VANTAGE_PYTHON")
        .unwrap_or_else(|_| "/var/tmp/vantage-ci-venv/bin/python3".into())
}
