-- The PostgreSQL twin of migrations/sqlite/0001: same tables, columns and rules, in
-- PostgreSQL's types. Timestamps stay unix seconds (BIGINT) as on SQLite. Where SQLite orders
-- by its implicit rowid, a `seq` identity column keeps the insertion order here.

-- Environments group everything an app owns; access tokens and signing keys belong to one.
CREATE TABLE environments (
    id          TEXT PRIMARY KEY,
    seq         BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    name        TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

-- Only a slow (Argon2id) hash of each secret is kept.
CREATE TABLE access_tokens (
    id              TEXT PRIMARY KEY,
    seq             BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    environment_id  TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    name            TEXT NOT NULL DEFAULT '',
    secret_hash     TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    revoked_at      BIGINT
);
CREATE INDEX access_tokens_by_environment ON access_tokens(environment_id);

-- The private half is handed out once at creation and never stored.
CREATE TABLE signing_keys (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    environment_id  TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    public_key_pem  TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX signing_keys_by_environment ON signing_keys(environment_id, seq);

CREATE TABLE spaces (
    seq                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                 TEXT NOT NULL UNIQUE,
    environment_id     TEXT NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    type               TEXT NOT NULL,
    passthrough        TEXT,
    status             TEXT NOT NULL CHECK (status IN ('idle', 'active')),
    active_session_id  TEXT,
    created_at         BIGINT NOT NULL
);
CREATE INDEX spaces_by_environment ON spaces(environment_id, seq);
