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

-- The configuration checks network discovery reports, described like any vulnerability.
INSERT INTO vulnerabilities (id, summary, cwes, published, modified, updated_at) VALUES
 ('VANTAGE-TLS-EXPIRED', 'The TLS certificate presented by the service is past its end of validity: clients either refuse the connection or are trained to accept certificate errors, which hides interception.', '["CWE-298"]', NULL, NULL, 0),
 ('VANTAGE-TLS-NOT-YET-VALID', 'The TLS certificate presented by the service is not valid yet (its start of validity is in the future): clients refuse it or learn to ignore certificate errors.', '["CWE-298"]', NULL, NULL, 0),
 ('VANTAGE-TLS-WEAK-KEY', 'The TLS certificate uses a weak public key (RSA or DSA under 2048 bits, EC under 224 bits), within reach of factoring or discrete-log attacks.', '["CWE-326"]', NULL, NULL, 0),
 ('VANTAGE-TLS-WEAK-SIGNATURE', 'The TLS certificate is signed with MD5 or SHA-1, hash functions with practical collision attacks that allow forged certificates.', '["CWE-327"]', NULL, NULL, 0),
 ('VANTAGE-TLS-LEGACY-PROTOCOL', 'The service still accepts TLS 1.0 or TLS 1.1, protocol versions deprecated by RFC 8996 (BEAST, weak MAC constructions, no AEAD ciphers).', '["CWE-327"]', NULL, NULL, 0),
 ('VANTAGE-TLS-SELF-SIGNED', 'The TLS certificate is self-signed: clients cannot authenticate the service and an interceptor can present its own certificate just as well.', '["CWE-295"]', NULL, NULL, 0),
 ('VANTAGE-TLS-HOSTNAME-MISMATCH', 'The TLS certificate does not name the host it was reached by: clients that check names refuse it, others accept any certificate.', '["CWE-297"]', NULL, NULL, 0)
ON CONFLICT (id) DO NOTHING;
