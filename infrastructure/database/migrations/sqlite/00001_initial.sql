-- Initial schema (SQLite), the same tables as the PostgreSQL migration of
-- this version. Types differ: DATETIME, because the driver scans only
-- DATE/DATETIME/TIMESTAMP columns into time.Time (values are written as
-- UTC text of one format, so they also compare correctly as text); BLOB for
-- bytes; TEXT for UUIDs. Foreign keys need PRAGMA foreign_keys=ON, which
-- the database package sets on every connection.

-- +goose Up
CREATE TABLE users (
    id            TEXT     NOT NULL PRIMARY KEY,
    email         TEXT     NOT NULL,
    name          TEXT     NOT NULL DEFAULT '',
    roles         TEXT     NOT NULL,
    password_hash TEXT     NOT NULL,
    created_at    DATETIME NOT NULL,
    updated_at    DATETIME NOT NULL,
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_email_lower CHECK (email = lower(email))
);

CREATE TABLE sessions (
    id                  TEXT     NOT NULL PRIMARY KEY,
    user_id             TEXT     NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at          DATETIME NOT NULL,
    last_used_at        DATETIME NOT NULL,
    idle_expires_at     DATETIME NOT NULL,
    absolute_expires_at DATETIME NOT NULL,
    auth_time           DATETIME NOT NULL,
    revoked_at          DATETIME NULL,
    revoke_reason       TEXT     NOT NULL DEFAULT '',
    user_agent          TEXT     NOT NULL DEFAULT '',
    ip                  TEXT     NOT NULL DEFAULT '',
    generation          INTEGER  NOT NULL CHECK (generation >= 1)
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_idle_expires_at_idx ON sessions (idle_expires_at);
CREATE INDEX sessions_absolute_expires_at_idx ON sessions (absolute_expires_at);
CREATE INDEX sessions_revoked_at_idx ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE refresh_tokens (
    token_hash       BLOB     NOT NULL PRIMARY KEY CHECK (length(token_hash) = 32),
    session_id       TEXT     NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    generation       INTEGER  NOT NULL CHECK (generation >= 1),
    created_at       DATETIME NOT NULL,
    rotated_at       DATETIME NULL,
    successor_sealed BLOB     NULL,
    CONSTRAINT refresh_tokens_session_generation_key UNIQUE (session_id, generation)
);

CREATE TABLE security_events (
    id         TEXT     NOT NULL PRIMARY KEY,
    user_id    TEXT     NOT NULL,
    session_id TEXT     NULL,
    type       TEXT     NOT NULL,
    ip         TEXT     NOT NULL DEFAULT '',
    user_agent TEXT     NOT NULL DEFAULT '',
    created_at DATETIME NOT NULL
);
CREATE INDEX security_events_user_created_idx ON security_events (user_id, created_at DESC, id DESC);

CREATE TABLE signing_keys (
    kid             TEXT     NOT NULL PRIMARY KEY,
    alg             TEXT     NOT NULL,
    private_key_pem TEXT     NOT NULL,
    created_at      DATETIME NOT NULL,
    slot            INTEGER  NULL,
    CONSTRAINT signing_keys_slot_key UNIQUE (slot)
);

-- +goose Down
DROP TABLE signing_keys;
DROP TABLE security_events;
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE users;
