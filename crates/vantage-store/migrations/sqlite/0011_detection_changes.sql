-- What the knowledge base changed that stored inventories must be judged against again: a
-- distribution package of a release (`distro`, `ubuntu:24.04`, `openssl`) or a language
-- package of an OSV ecosystem (`osv`, `PyPI`, `django`). Written in the same transaction as the
-- data that changed; the detection job judges only the inventories holding those packages and
-- then deletes the rows it handled, so re-detection costs what changed, not the whole fleet.
CREATE TABLE detection_changes (
    kind  TEXT NOT NULL,
    scope TEXT NOT NULL,
    name  TEXT NOT NULL,
    PRIMARY KEY (kind, scope, name)
);
