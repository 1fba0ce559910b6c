-- Initial schema (PostgreSQL). Constraints live here, so no interleaving of
-- requests can break them: one account per normalized email, one token per
-- (session, generation), cascades from users to sessions to tokens.

-- +goose Up
CREATE TABLE users (
    id            UUID        PRIMARY KEY,
    email         TEXT        NOT NULL,
    name          TEXT        NOT NULL DEFAULT '',
    roles         TEXT        NOT NULL,
    password_hash TEXT        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    CONSTRAINT users_email_key UNIQUE (email),
    -- The domain normalizes emails; this makes a forgotten normalization an
    -- error instead of a second account.
    CONSTRAINT users_email_lower CHECK (email = lower(email))
);

CREATE TABLE sessions (
    id                  UUID        PRIMARY KEY,
    user_id             UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at          TIMESTAMPTZ NOT NULL,
    last_used_at        TIMESTAMPTZ NOT NULL,
    idle_expires_at     TIMESTAMPTZ NOT NULL,
    absolute_expires_at TIMESTAMPTZ NOT NULL,
    auth_time           TIMESTAMPTZ NOT NULL,
    revoked_at          TIMESTAMPTZ NULL,
    revoke_reason       TEXT        NOT NULL DEFAULT '',
    user_agent          TEXT        NOT NULL DEFAULT '',
    ip                  TEXT        NOT NULL DEFAULT '',
    generation          BIGINT      NOT NULL CHECK (generation >= 1)
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
-- The purge finds sessions past either expiry, or revoked, long enough ago.
CREATE INDEX sessions_idle_expires_at_idx ON sessions (idle_expires_at);
CREATE INDEX sessions_absolute_expires_at_idx ON sessions (absolute_expires_at);
CREATE INDEX sessions_revoked_at_idx ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE refresh_tokens (
    token_hash       BYTEA       PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    session_id       UUID        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    generation       BIGINT      NOT NULL CHECK (generation >= 1),
    created_at       TIMESTAMPTZ NOT NULL,
    rotated_at       TIMESTAMPTZ NULL,
    successor_sealed BYTEA       NULL,
    -- One token per generation: a second live lineage in a session cannot
    -- be stored, whatever the code above does. Also serves the cascade.
    CONSTRAINT refresh_tokens_session_generation_key UNIQUE (session_id, generation)
);

-- No foreign key to users: events outlive a deleted account (scrubbed of
-- personal data), so user_id and session_id are plain text.
CREATE TABLE security_events (
    id         UUID        PRIMARY KEY,
    user_id    TEXT        NOT NULL,
    session_id TEXT        NULL,
    type       TEXT        NOT NULL,
    ip         TEXT        NOT NULL DEFAULT '',
    user_agent TEXT        NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX security_events_user_created_idx ON security_events (user_id, created_at DESC, id DESC);

-- slot = 1 marks the key the first instance created: instances starting
-- together each insert a candidate with slot 1, and the unique slot lets
-- exactly one win.
CREATE TABLE signing_keys (
    kid             TEXT        PRIMARY KEY,
    alg             TEXT        NOT NULL,
    private_key_pem TEXT        NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    slot            INTEGER     NULL,
    CONSTRAINT signing_keys_slot_key UNIQUE (slot)
);

-- +goose Down
DROP TABLE signing_keys;
DROP TABLE security_events;
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE users;
