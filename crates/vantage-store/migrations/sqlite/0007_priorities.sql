-- Prioritization (issue 4). A finding's priority depends on its vulnerability and on where its
-- asset sits (the set of scopes it belongs to: its "profile"), so it is computed once per
-- vulnerability × profile and shared: a new EPSS day re-scores these rows, and only the findings
-- of rows whose result changed are touched.
CREATE TABLE priority_contexts (
    id             INTEGER PRIMARY KEY,
    vuln_id        TEXT NOT NULL,
    profile        TEXT NOT NULL,
    priority       SMALLINT NOT NULL,
    score          DOUBLE PRECISION,
    base_score     DOUBLE PRECISION,
    source_vector  TEXT,
    vector_source  TEXT,
    derived_vector TEXT,
    ssvc           TEXT,
    rule           TEXT NOT NULL,
    explanation    TEXT NOT NULL,
    sla_days       INTEGER NOT NULL,
    fingerprint    BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    UNIQUE (vuln_id, profile)
);

-- Every change of a context's priority or score, with the explanation it had from then on.
CREATE TABLE priority_changes (
    id           INTEGER PRIMARY KEY,
    context_id   BIGINT NOT NULL REFERENCES priority_contexts (id) ON DELETE CASCADE,
    changed_at   BIGINT NOT NULL,
    old_priority SMALLINT,
    new_priority SMALLINT NOT NULL,
    old_score    DOUBLE PRECISION,
    new_score    DOUBLE PRECISION,
    explanation  TEXT NOT NULL
);
CREATE INDEX priority_changes_context ON priority_changes (context_id, changed_at);

ALTER TABLE findings ADD COLUMN context_id BIGINT;
CREATE INDEX findings_context ON findings (context_id);
-- Findings not yet attached to a context (new, or their asset changed scopes).
CREATE INDEX findings_unprioritized ON findings (id) WHERE context_id IS NULL;

-- The profile each asset was last prioritized with (sorted scope ids, '' for none).
ALTER TABLE assets ADD COLUMN priority_profile TEXT;

ALTER TABLE scopes ADD COLUMN priority_policy TEXT NOT NULL DEFAULT 'default';
ALTER TABLE scopes ADD COLUMN priority_model TEXT NOT NULL DEFAULT 'cvss';

-- Priority policies edited through the API (TOML text); they take precedence over vantage.toml.
CREATE TABLE priority_policies (
    name       TEXT PRIMARY KEY,
    body       TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
