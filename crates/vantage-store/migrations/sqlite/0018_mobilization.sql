-- Mobilization: connectors to the tools teams work in (settings in clear, secrets sealed by the
-- application like the credentials vault), the tickets Vantage keeps there (one per key and
-- connector: re-runs never duplicate), the outbound queue with retries and a dead-letter state,
-- alert rules per scope with digest and rate limits, alert de-duplication, and remediation runs
-- (dry run, approval, execution log, verification).
CREATE TABLE integrations (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL,
    settings        TEXT NOT NULL,
    sealed          TEXT NOT NULL,
    grouping        TEXT NOT NULL DEFAULT 'unit',
    scope_id        BIGINT REFERENCES scopes (id) ON DELETE CASCADE,
    min_priority    TEXT NOT NULL DEFAULT 'P4',
    rate_per_minute INTEGER NOT NULL DEFAULT 60,
    enabled         BOOLEAN NOT NULL DEFAULT TRUE,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE tickets (
    id             INTEGER PRIMARY KEY,
    integration_id BIGINT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    key            TEXT NOT NULL,
    asset_id       BIGINT REFERENCES assets (id) ON DELETE SET NULL,
    status         TEXT NOT NULL,
    external_id    TEXT,
    url            TEXT,
    priority       TEXT,
    fingerprint    TEXT NOT NULL,
    content        TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    closed_at      BIGINT,
    UNIQUE (integration_id, key)
);

CREATE TABLE deliveries (
    id             INTEGER PRIMARY KEY,
    integration_id BIGINT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    ticket_id      BIGINT REFERENCES tickets (id) ON DELETE CASCADE,
    rule_id        BIGINT,
    action         TEXT NOT NULL,
    payload        TEXT NOT NULL,
    status         TEXT NOT NULL DEFAULT 'queued',
    attempts       INTEGER NOT NULL DEFAULT 0,
    run_after      BIGINT NOT NULL,
    lease_until    BIGINT,
    last_error     TEXT,
    created_at     BIGINT NOT NULL,
    finished_at    BIGINT
);
CREATE INDEX deliveries_due ON deliveries (status, run_after);
CREATE INDEX deliveries_ticket ON deliveries (ticket_id);

CREATE TABLE alert_rules (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    scope_id       BIGINT REFERENCES scopes (id) ON DELETE CASCADE,
    kinds          TEXT NOT NULL,
    integrations   TEXT NOT NULL,
    digest_minutes INTEGER NOT NULL DEFAULT 0,
    max_per_hour   INTEGER NOT NULL DEFAULT 0,
    last_sent_at   BIGINT,
    window_start   BIGINT,
    window_count   INTEGER NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL
);

-- Alerts matched by a rule and not yet sent (digests wait here).
CREATE TABLE alert_pending (
    rule_id  BIGINT NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    alert_id BIGINT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    PRIMARY KEY (rule_id, alert_id)
);

ALTER TABLE alerts ADD COLUMN scope_id BIGINT REFERENCES scopes (id) ON DELETE SET NULL;
ALTER TABLE alerts ADD COLUMN finding_id BIGINT;
ALTER TABLE alerts ADD COLUMN dedup_key TEXT;
ALTER TABLE alerts ADD COLUMN dispatched_at BIGINT;
CREATE UNIQUE INDEX alerts_dedup ON alerts (dedup_key);
CREATE INDEX alerts_undispatched ON alerts (id) WHERE dispatched_at IS NULL;

CREATE TABLE remediation_runs (
    id           INTEGER PRIMARY KEY,
    asset_id     BIGINT NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    scope_id     BIGINT REFERENCES scopes (id) ON DELETE SET NULL,
    target       TEXT NOT NULL,
    manager      TEXT NOT NULL,
    plan         TEXT NOT NULL,
    status       TEXT NOT NULL,
    dry_run      TEXT NOT NULL DEFAULT '',
    log          TEXT NOT NULL DEFAULT '',
    result       TEXT,
    requested_by TEXT NOT NULL,
    approved_by  TEXT,
    created_at   BIGINT NOT NULL,
    approved_at  BIGINT,
    started_at   BIGINT,
    finished_at  BIGINT
);
CREATE INDEX remediation_runs_asset ON remediation_runs (asset_id, id);

-- The last host inventory's kernel facts, for the patch plan's reboot unit.
CREATE TABLE host_facts (
    asset_id               BIGINT PRIMARY KEY REFERENCES assets (id) ON DELETE CASCADE,
    kernel                 TEXT,
    newest_kernel          TEXT,
    newer_kernel_installed BOOLEAN NOT NULL,
    reboot_required        BOOLEAN NOT NULL,
    collected_at           BIGINT NOT NULL
);
