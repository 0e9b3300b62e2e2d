-- Environments group everything an app owns; access tokens and signing keys belong to one.
CREATE TABLE environments (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

-- Only a slow (Argon2id) hash of each secret is kept.
CREATE TABLE access_tokens (
    id              TEXT PRIMARY KEY NOT NULL,
    environment_id  TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    name            TEXT NOT NULL DEFAULT '',
    secret_hash     TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    revoked_at      INTEGER
);
CREATE INDEX access_tokens_by_environment ON access_tokens(environment_id);

-- The private half is handed out once at creation and never stored.
CREATE TABLE signing_keys (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    environment_id  TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    public_key_pem  TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX signing_keys_by_environment ON signing_keys(environment_id, seq);

CREATE TABLE spaces (
    seq                INTEGER PRIMARY KEY AUTOINCREMENT,
    id                 TEXT NOT NULL UNIQUE,
    environment_id     TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    type               TEXT NOT NULL,
    passthrough        TEXT,
    status             TEXT NOT NULL CHECK (status IN ('idle', 'active')),
    active_session_id  TEXT,
    created_at         INTEGER NOT NULL
);
CREATE INDEX spaces_by_environment ON spaces(environment_id, seq);
