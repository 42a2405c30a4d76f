-- Distribution security data: a distribution's verdict per (release, source package, CVE).
-- A file covers one collection (Alpine `v3.19/main`, Debian `DSA` / `DLA`) and replaces it whole.
CREATE TABLE distro_fixes (
    feed          TEXT NOT NULL,
    collection    TEXT NOT NULL,
    distro        TEXT NOT NULL,
    release       TEXT NOT NULL,
    package       TEXT NOT NULL,
    vuln_id       TEXT NOT NULL,
    status        TEXT NOT NULL,
    fixed_version TEXT,
    advisory      TEXT,
    PRIMARY KEY (feed, collection, release, package, vuln_id)
);
CREATE INDEX distro_fixes_package ON distro_fixes (distro, release, package);
CREATE INDEX distro_fixes_vuln ON distro_fixes (vuln_id);
