-- Knowledge base: what each feed says about each vulnerability, kept per feed so that a
-- re-import replaces only its own feed's facts and nothing from another source is lost.
-- The tables of 0001 had no feed column and were never written; they are replaced.
-- References and CPE configurations are JSON columns of the record: they are read with the
-- record and never searched by element (a CPE lookup index is derived when detection needs one).

DROP TABLE vuln_aliases;
DROP TABLE vuln_references;
DROP TABLE cvss_vectors;

CREATE TABLE vuln_records (
    vuln_id      TEXT NOT NULL,
    feed         TEXT NOT NULL,
    summary      TEXT,
    status       TEXT,
    published    BIGINT,
    modified     BIGINT,
    cwes         TEXT NOT NULL DEFAULT '[]',
    refs         TEXT NOT NULL DEFAULT '[]',
    cpe_matches  TEXT NOT NULL DEFAULT '[]',
    content_hash TEXT NOT NULL,
    imported_at  BIGINT NOT NULL,
    PRIMARY KEY (vuln_id, feed)
);

CREATE TABLE vuln_aliases (
    vuln_id TEXT NOT NULL,
    feed    TEXT NOT NULL,
    alias   TEXT NOT NULL,
    PRIMARY KEY (vuln_id, feed, alias)
);
CREATE INDEX vuln_aliases_alias ON vuln_aliases (alias);

CREATE TABLE cvss_vectors (
    vuln_id    TEXT NOT NULL,
    feed       TEXT NOT NULL,
    source     TEXT NOT NULL,
    is_primary BOOLEAN NOT NULL DEFAULT FALSE,
    version    TEXT NOT NULL,
    vector     TEXT NOT NULL,
    base_score DOUBLE PRECISION,
    PRIMARY KEY (vuln_id, feed, source, version)
);

CREATE TABLE ssvc_decisions (
    vuln_id          TEXT NOT NULL,
    feed             TEXT NOT NULL,
    source           TEXT NOT NULL,
    exploitation     TEXT,
    automatable      TEXT,
    technical_impact TEXT,
    version          TEXT,
    decided_at       BIGINT,
    PRIMARY KEY (vuln_id, feed)
);

CREATE TABLE feed_imports (
    id          INTEGER PRIMARY KEY,
    feed        TEXT NOT NULL,
    path        TEXT NOT NULL,
    file_sha256 TEXT NOT NULL,
    data_date   TEXT,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT NOT NULL,
    records     BIGINT NOT NULL,
    new_records BIGINT NOT NULL,
    changed     BIGINT NOT NULL,
    unchanged   BIGINT NOT NULL
);
CREATE INDEX feed_imports_feed ON feed_imports (feed, id);
CREATE INDEX feed_imports_sha ON feed_imports (file_sha256);
