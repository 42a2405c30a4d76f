-- Cloud inventory: which provider resource an asset is (so a later listing of the same account
-- and region can retire what the provider no longer lists), and the ports its firewall rules
-- open to any address (security groups, NSGs, VPC firewalls), replaced at each listing.
CREATE TABLE cloud_resources (
    asset_id         BIGINT PRIMARY KEY REFERENCES assets (id) ON DELETE CASCADE,
    provider         TEXT NOT NULL,
    account          TEXT NOT NULL,
    region           TEXT NOT NULL,
    kind             TEXT NOT NULL,
    resource_id      TEXT NOT NULL,
    state            TEXT NOT NULL,
    internet_exposed BOOLEAN NOT NULL,
    last_listed      BIGINT NOT NULL
);
CREATE INDEX cloud_resources_region ON cloud_resources (provider, account, region);

CREATE TABLE cloud_exposures (
    asset_id  BIGINT NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    protocol  TEXT NOT NULL,
    from_port INTEGER NOT NULL,
    to_port   INTEGER NOT NULL,
    source    TEXT NOT NULL,
    rule      TEXT NOT NULL
);
CREATE INDEX cloud_exposures_asset ON cloud_exposures (asset_id);

-- Certificate Transparency logs followed by external discovery: the next entry to read per log,
-- so each run reads only what was appended since the last one.
CREATE TABLE ct_log_positions (
    log_url    TEXT PRIMARY KEY,
    position   BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
