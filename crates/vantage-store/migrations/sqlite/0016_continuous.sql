-- Continuous exposure management: the finding lifecycle across scans (new → open → fixed →
-- reopened, triage with expiry, time in each priority, attack-path verdict), scopes that
-- schedule their own collectors and say who may see them, durable jobs with leases, retries
-- and cancellation, and the daily metric snapshots dashboards read.
ALTER TABLE findings ADD COLUMN reopen_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE findings ADD COLUMN triage_reason TEXT;
ALTER TABLE findings ADD COLUMN triaged_by TEXT;
ALTER TABLE findings ADD COLUMN accepted_until BIGINT;
ALTER TABLE findings ADD COLUMN priority_since BIGINT;
ALTER TABLE findings ADD COLUMN p1_seconds BIGINT NOT NULL DEFAULT 0;
ALTER TABLE findings ADD COLUMN p2_seconds BIGINT NOT NULL DEFAULT 0;
ALTER TABLE findings ADD COLUMN p3_seconds BIGINT NOT NULL DEFAULT 0;
ALTER TABLE findings ADD COLUMN p4_seconds BIGINT NOT NULL DEFAULT 0;
-- 1: on at least one attack path found by the last analysis (settings
-- `attack_paths.analysed_at` says when); otherwise on no known path if detected before it.
ALTER TABLE findings ADD COLUMN attack_path SMALLINT;
CREATE INDEX findings_on_path ON findings (id) WHERE attack_path = 1;
-- Keyed on accepted_until alone: a predicate on status would make every status change of a
-- re-scan a non-HOT update on PostgreSQL (all indexes rewritten).
CREATE INDEX findings_accepted ON findings (accepted_until) WHERE accepted_until IS NOT NULL;

ALTER TABLE scopes ADD COLUMN collectors TEXT NOT NULL DEFAULT '[]';
ALTER TABLE scopes ADD COLUMN access TEXT NOT NULL DEFAULT '{}';
ALTER TABLE scopes ADD COLUMN next_run_at BIGINT;
ALTER TABLE scopes ADD COLUMN last_run_at BIGINT;

ALTER TABLE jobs ADD COLUMN lease_until BIGINT;
ALTER TABLE jobs ADD COLUMN cancel_requested BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE jobs ADD COLUMN result TEXT;
ALTER TABLE jobs ADD COLUMN origin TEXT NOT NULL DEFAULT '';
CREATE INDEX jobs_scope ON jobs (scope_id, id);
CREATE INDEX jobs_kind ON jobs (kind, id);

CREATE TABLE metric_snapshots (
    day      TEXT NOT NULL,
    scope_id BIGINT NOT NULL,
    metric   TEXT NOT NULL,
    dim      TEXT NOT NULL,
    value    DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (day, scope_id, metric, dim)
);

-- Roles that see a scope (its `access.roles`); users named in `access.users` get user_scopes rows.
CREATE TABLE scope_roles (
    scope_id BIGINT NOT NULL REFERENCES scopes (id) ON DELETE CASCADE,
    role     TEXT NOT NULL,
    PRIMARY KEY (scope_id, role)
);
