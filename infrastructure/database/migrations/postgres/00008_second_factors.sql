-- Second factors: TOTP with recovery codes, passkeys, the token that
-- carries a login from its password to its second factor, and WebAuthn
-- ceremonies held server-side so any instance can finish one.

-- +goose Up
-- The RFC 8176 methods proven at the session's auth_time, comma-separated,
-- so refreshed tokens keep the session's assurance level.
ALTER TABLE sessions ADD COLUMN auth_methods TEXT NOT NULL DEFAULT 'pwd';

-- One row per account. Secrets are AES-256-GCM sealed under the key named
-- by *_key_id ('' = stored as is, when no DATA_ENCRYPTION_KEY is set).
-- last_step is the RFC 6238 step of the last accepted code: updated under
-- the row lock, it refuses a replay on every instance.
CREATE TABLE totp_factors (
    user_id            UUID        PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret             BYTEA       NULL,
    secret_key_id      TEXT        NOT NULL DEFAULT '',
    confirmed_at       TIMESTAMPTZ NULL,
    last_step          BIGINT      NOT NULL DEFAULT 0,
    pending            BYTEA       NULL,
    pending_key_id     TEXT        NOT NULL DEFAULT '',
    pending_created_at TIMESTAMPTZ NULL,
    updated_at         TIMESTAMPTZ NOT NULL
);

CREATE TABLE recovery_codes (
    user_id    UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  BYTEA       NOT NULL CHECK (octet_length(code_hash) = 32),
    created_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ NULL,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE mfa_challenges (
    token_hash BYTEA       PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    user_id    UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    failures   INTEGER     NOT NULL DEFAULT 0 CHECK (failures >= 0),
    credential_version BIGINT      NOT NULL DEFAULT 0,
    used_at    TIMESTAMPTZ NULL
);
CREATE INDEX mfa_challenges_expires_at_idx ON mfa_challenges (expires_at);
CREATE INDEX mfa_challenges_user_id_idx ON mfa_challenges (user_id);

CREATE TABLE passkeys (
    id            UUID        PRIMARY KEY,
    user_id       UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT        NOT NULL DEFAULT '',
    credential_id BYTEA       NOT NULL,
    credential    BYTEA       NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    last_used_at  TIMESTAMPTZ NULL,
    -- A credential belongs to one account, whatever the code above does.
    CONSTRAINT passkeys_credential_id_key UNIQUE (credential_id)
);
CREATE INDEX passkeys_user_id_idx ON passkeys (user_id);

-- user_id is NULL for a discoverable login, whose user is not known until
-- the authenticator answers.
CREATE TABLE webauthn_challenges (
    id           UUID        PRIMARY KEY,
    user_id      UUID        NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose      TEXT        NOT NULL,
    -- The name asked for with registration options, used when the finish names none.
    name         TEXT        NOT NULL DEFAULT '',
    session_data BYTEA       NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX webauthn_challenges_expires_at_idx ON webauthn_challenges (expires_at);

-- +goose Down
DROP TABLE webauthn_challenges;
DROP TABLE passkeys;
DROP TABLE mfa_challenges;
DROP TABLE recovery_codes;
DROP TABLE totp_factors;
ALTER TABLE sessions DROP COLUMN auth_methods;
