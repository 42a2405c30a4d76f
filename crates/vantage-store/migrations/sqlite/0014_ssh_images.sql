-- Agentless inventory: the SSH host keys pinned on first contact (a different key later refuses
-- the scan and raises an alert), the alerts themselves, and the SSH targets of a scope (what the
-- scheduler logs in to; the credential is a vault name, never a secret).
CREATE TABLE ssh_host_keys (
    id          INTEGER PRIMARY KEY,
    host        TEXT NOT NULL,
    port        INTEGER NOT NULL,
    algorithm   TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    first_seen  BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL,
    UNIQUE (host, port)
);

CREATE TABLE alerts (
    id              INTEGER PRIMARY KEY,
    at              BIGINT NOT NULL,
    kind            TEXT NOT NULL,
    severity        TEXT NOT NULL,
    asset_id        BIGINT REFERENCES assets (id) ON DELETE SET NULL,
    subject         TEXT NOT NULL,
    message         TEXT NOT NULL,
    acknowledged_at BIGINT
);
CREATE INDEX alerts_at ON alerts (at);

CREATE TABLE ssh_targets (
    id              INTEGER PRIMARY KEY,
    scope_id        BIGINT NOT NULL REFERENCES scopes (id) ON DELETE CASCADE,
    endpoint        TEXT NOT NULL,
    credential      TEXT NOT NULL,
    jump            TEXT,
    jump_credential TEXT,
    sudo            TEXT NOT NULL DEFAULT 'no',
    created_at      BIGINT NOT NULL,
    UNIQUE (scope_id, endpoint)
);
