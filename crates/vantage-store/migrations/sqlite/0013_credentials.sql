-- The credentials vault: what collectors log in with (SSH keys, passwords, later ITSM tokens).
-- The secret is sealed by the application (XChaCha20-Poly1305 under the master key, the
-- credential's name as associated data) before it reaches the database: "v1:KEYID:NONCE:CIPHERTEXT".
CREATE TABLE credentials (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
    username   TEXT NOT NULL DEFAULT '',
    sealed     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
