//! Forward-only schema migrations, one directory per backend, embedded in the binary.
//!
//! Migrations are numbered files under `migrations/sqlite` and `migrations/postgres`; the same
//! number means the same change on both backends. They are applied at start-up by
//! [`crate::Store::migrate`]; a database migrated by a newer build is refused rather than
//! silently misread, and an edited migration is detected by its checksum.

use sqlx::migrate::{Migration, MigrationType, Migrator};

macro_rules! migrations {
    ($backend:literal: $( $version:literal => $name:literal ),+ $(,)?) => {
        vec![$(
            Migration::new(
                $version,
                $name.into(),
                MigrationType::Simple,
                sqlx::SqlSafeStr::into_sql_str(include_str!(concat!("../migrations/", $backend, "/", $name, ".sql"))),
                false,
            )
        ),+]
    };
}

/// The SQLite migrations.
pub(crate) fn sqlite() -> Migrator {
    Migrator::with_migrations(
        migrations!("sqlite": 1 => "0001_initial", 2 => "0002_knowledge", 3 => "0003_affected", 4 => "0004_distro_fixes", 5 => "0005_exploit_details", 6 => "0006_feed_sync", 7 => "0007_priorities", 8 => "0008_evidence", 9 => "0009_osv_packages", 10 => "0010_cpe_products", 11 => "0011_detection_changes", 12 => "0012_network", 13 => "0013_credentials", 14 => "0014_ssh_images", 15 => "0015_cloud", 16 => "0016_continuous", 17 => "0017_findings_room", 18 => "0018_mobilization"),
    )
}

/// The PostgreSQL migrations.
pub(crate) fn postgres() -> Migrator {
    Migrator::with_migrations(
        migrations!("postgres": 1 => "0001_initial", 2 => "0002_knowledge", 3 => "0003_affected", 4 => "0004_distro_fixes", 5 => "0005_exploit_details", 6 => "0006_feed_sync", 7 => "0007_priorities", 8 => "0008_evidence", 9 => "0009_osv_packages", 10 => "0010_cpe_products", 11 => "0011_detection_changes", 12 => "0012_network", 13 => "0013_credentials", 14 => "0014_ssh_images", 15 => "0015_cloud", 16 => "0016_continuous", 17 => "0017_findings_room", 18 => "0018_mobilization"),
    )
}

/// The number of the newest migration this build knows.
pub const LATEST: i64 = 18;
