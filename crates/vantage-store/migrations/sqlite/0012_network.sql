-- Network discovery. Services are closed, never deleted, when a scan no longer finds them open
-- (closed_at); they come back when seen again. A scope decides after how many consecutive scans
-- that miss an asset it is decommissioned. scan_runs records each network scan or nmap import:
-- what it covered and what it found.
ALTER TABLE services ADD COLUMN tunnel TEXT;
ALTER TABLE services ADD COLUMN info TEXT;
ALTER TABLE services ADD COLUMN method TEXT;
ALTER TABLE services ADD COLUMN http TEXT;
ALTER TABLE services ADD COLUMN closed_at BIGINT;

ALTER TABLE scopes ADD COLUMN decommission_after INTEGER NOT NULL DEFAULT 3;

CREATE TABLE scan_runs (
    id            INTEGER PRIMARY KEY,
    kind          TEXT NOT NULL,
    scope_id      BIGINT REFERENCES scopes (id) ON DELETE SET NULL,
    targets       TEXT NOT NULL,
    ports         TEXT NOT NULL,
    status        TEXT NOT NULL,
    started_at    BIGINT NOT NULL,
    finished_at   BIGINT,
    hosts_scanned BIGINT NOT NULL DEFAULT 0,
    hosts_up      BIGINT NOT NULL DEFAULT 0,
    open_ports    BIGINT NOT NULL DEFAULT 0,
    error         TEXT
);
CREATE INDEX scan_runs_scope ON scan_runs (scope_id, started_at);
