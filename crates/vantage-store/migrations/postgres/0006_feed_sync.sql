-- What `vantage feeds sync` knows about each URL it downloads: the validators for conditional
-- requests (ETag, Last-Modified) and, for incremental APIs (NVD), the watermark up to which
-- records have been fetched and committed.
CREATE TABLE feed_sync (
    url           TEXT PRIMARY KEY,
    source        TEXT NOT NULL,
    etag          TEXT,
    last_modified TEXT,
    watermark     TEXT,
    checked_at    BIGINT NOT NULL,
    changed_at    BIGINT
);
