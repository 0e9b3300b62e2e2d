-- People who sign in to the dashboard. Only an Argon2id hash of each password is kept.
-- Emails are unique ignoring ASCII case, as SQLite's COLLATE NOCASE compares them: lower()
-- under the "C" collation folds ASCII letters only, whatever the database's locale.
CREATE TABLE dashboard_users (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX dashboard_users_by_email ON dashboard_users (lower(email COLLATE "C"));

-- Signed-in browsers. The cookie carries a random 256-bit id; only its SHA-256 is kept here.
CREATE TABLE dashboard_sessions (
    id_hash     TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES dashboard_users(id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX dashboard_sessions_by_expiry ON dashboard_sessions(expires_at);

-- Keys the dashboard holds itself to sign test join tokens: hidden from the REST API, accepted
-- by the join verifier like any other key of their environment.
ALTER TABLE signing_keys ADD COLUMN internal BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE dashboard_join_keys (
    environment_id   TEXT PRIMARY KEY REFERENCES environments(id) ON DELETE CASCADE,
    key_id           TEXT NOT NULL REFERENCES signing_keys(id) ON DELETE CASCADE,
    private_key_pem  TEXT NOT NULL
);

CREATE INDEX access_tokens_by_environment_created ON access_tokens(environment_id, created_at);
