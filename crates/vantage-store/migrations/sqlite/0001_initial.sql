-- Vantage schema, SQLite flavour. Instants are Unix seconds (BIGINT), days are ISO 'YYYY-MM-DD'
-- text; lists of small values that are never queried by element are JSON text.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE scopes (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    description     TEXT NOT NULL DEFAULT '',
    rules           TEXT NOT NULL DEFAULT '[]',
    exposure        TEXT NOT NULL DEFAULT 'internal',
    confidentiality TEXT NOT NULL DEFAULT 'medium',
    integrity       TEXT NOT NULL DEFAULT 'medium',
    availability    TEXT NOT NULL DEFAULT 'medium',
    criticality     INTEGER NOT NULL DEFAULT 3,
    frequency       TEXT NOT NULL DEFAULT 'daily',
    thresholds      TEXT NOT NULL DEFAULT '{}',
    sla             TEXT NOT NULL DEFAULT '{"p1_days":7,"p2_days":30,"p3_days":90,"p4_days":180}',
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE assets (
    id                INTEGER PRIMARY KEY,
    kind              TEXT NOT NULL,
    name              TEXT NOT NULL,
    os                TEXT,
    first_seen        BIGINT NOT NULL,
    last_seen         BIGINT NOT NULL,
    missed_scans      INTEGER NOT NULL DEFAULT 0,
    decommissioned_at BIGINT
);
CREATE INDEX assets_name ON assets (name);

CREATE TABLE asset_identifiers (
    asset_id BIGINT NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    kind     TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (kind, value)
);
CREATE INDEX asset_identifiers_asset ON asset_identifiers (asset_id);

CREATE TABLE asset_tags (
    asset_id BIGINT NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (asset_id, key, value)
);

CREATE TABLE asset_scopes (
    scope_id BIGINT NOT NULL REFERENCES scopes (id) ON DELETE CASCADE,
    asset_id BIGINT NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    PRIMARY KEY (scope_id, asset_id)
);
CREATE INDEX asset_scopes_asset ON asset_scopes (asset_id, scope_id);

CREATE TABLE services (
    id         INTEGER PRIMARY KEY,
    asset_id   BIGINT NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    transport  TEXT NOT NULL,
    port       INTEGER NOT NULL,
    name       TEXT,
    product    TEXT,
    version    TEXT,
    cpe        TEXT,
    banner     TEXT,
    tls        TEXT,
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    UNIQUE (asset_id, transport, port)
);

CREATE TABLE packages (
    id             INTEGER PRIMARY KEY,
    asset_id       BIGINT NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    ecosystem      TEXT NOT NULL,
    name           TEXT NOT NULL,
    version        TEXT NOT NULL,
    source_name    TEXT,
    source_version TEXT,
    arch           TEXT NOT NULL DEFAULT '',
    purl           TEXT,
    UNIQUE (asset_id, ecosystem, name, arch)
);

CREATE TABLE vulnerabilities (
    id          TEXT PRIMARY KEY,
    summary     TEXT,
    cwes        TEXT NOT NULL DEFAULT '[]',
    published   BIGINT,
    modified    BIGINT,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE vuln_aliases (
    vuln_id TEXT NOT NULL,
    alias   TEXT NOT NULL,
    PRIMARY KEY (vuln_id, alias)
);
CREATE INDEX vuln_aliases_alias ON vuln_aliases (alias);

CREATE TABLE vuln_references (
    vuln_id TEXT NOT NULL,
    url     TEXT NOT NULL,
    PRIMARY KEY (vuln_id, url)
);

CREATE TABLE cvss_vectors (
    vuln_id    TEXT NOT NULL,
    source     TEXT NOT NULL,
    is_primary BOOLEAN NOT NULL DEFAULT FALSE,
    version    TEXT NOT NULL,
    vector     TEXT NOT NULL,
    base_score DOUBLE PRECISION,
    PRIMARY KEY (vuln_id, source, version)
);

CREATE TABLE epss_scores (
    cve           TEXT NOT NULL,
    day           TEXT NOT NULL,
    score         DOUBLE PRECISION NOT NULL,
    percentile    DOUBLE PRECISION NOT NULL,
    model_version TEXT,
    PRIMARY KEY (cve, day)
);

CREATE TABLE kev_entries (
    cve              TEXT PRIMARY KEY,
    vendor           TEXT NOT NULL,
    product          TEXT NOT NULL,
    name             TEXT NOT NULL,
    date_added       TEXT NOT NULL,
    due_date         TEXT,
    required_action  TEXT NOT NULL,
    known_ransomware BOOLEAN NOT NULL,
    notes            TEXT
);

CREATE TABLE certfr_alerts (
    id        TEXT NOT NULL,
    cve       TEXT NOT NULL,
    title     TEXT NOT NULL,
    published BIGINT,
    status    TEXT,
    PRIMARY KEY (id, cve)
);
CREATE INDEX certfr_alerts_cve ON certfr_alerts (cve);

CREATE TABLE exploits (
    cve       TEXT NOT NULL,
    source    TEXT NOT NULL,
    source_id TEXT NOT NULL,
    url       TEXT,
    PRIMARY KEY (cve, source, source_id)
);

CREATE TABLE findings (
    id                INTEGER PRIMARY KEY,
    asset_id          BIGINT NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    vuln_id           TEXT NOT NULL,
    component_kind    TEXT NOT NULL,
    component         TEXT NOT NULL,
    package_id        BIGINT,
    service_id        BIGINT,
    installed_version TEXT,
    fixed_version     TEXT,
    source            TEXT NOT NULL,
    rule              TEXT NOT NULL,
    status            TEXT NOT NULL DEFAULT 'open',
    priority          SMALLINT,
    score             DOUBLE PRECISION,
    first_detected    BIGINT NOT NULL,
    last_seen         BIGINT NOT NULL,
    fixed_at          BIGINT,
    status_changed_at BIGINT NOT NULL,
    UNIQUE (asset_id, vuln_id, component_kind, component)
);
-- Lists walk findings in (asset_id, id) order, driven by the asset ids of a scope: a page costs
-- the same at any depth and for any scope size. No index leads with status: it is not selective
-- (most findings are open) and would tempt the planners into sorting the whole open set.
CREATE INDEX findings_asset ON findings (asset_id, id);
CREATE INDEX findings_vuln ON findings (vuln_id, asset_id, id);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    all_scopes    BOOLEAN NOT NULL DEFAULT TRUE,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT NOT NULL
);

CREATE TABLE user_scopes (
    user_id  BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scope_id BIGINT NOT NULL REFERENCES scopes (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, scope_id)
);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    last_used_at BIGINT
);

CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL,
    scope_id     BIGINT REFERENCES scopes (id) ON DELETE SET NULL,
    status       TEXT NOT NULL DEFAULT 'queued',
    payload      TEXT NOT NULL DEFAULT '{}',
    progress     DOUBLE PRECISION NOT NULL DEFAULT 0,
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 3,
    error        TEXT,
    run_after    BIGINT NOT NULL,
    locked_by    TEXT,
    heartbeat_at BIGINT,
    created_at   BIGINT NOT NULL,
    started_at   BIGINT,
    finished_at  BIGINT
);
CREATE INDEX jobs_queue ON jobs (status, run_after);

CREATE TABLE job_logs (
    id      INTEGER PRIMARY KEY,
    job_id  BIGINT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    at      BIGINT NOT NULL,
    level   TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX job_logs_job ON job_logs (job_id, id);

CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_at ON audit_events (at);
