-- SQLite variant of the same version (DATETIME, BLOB, TEXT ids).
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
    user_id            TEXT        NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret             BLOB        NULL,
    secret_key_id      TEXT        NOT NULL DEFAULT '',
    confirmed_at       DATETIME    NULL,
    last_step          INTEGER     NOT NULL DEFAULT 0,
    pending            BLOB        NULL,
    pending_key_id     TEXT        NOT NULL DEFAULT '',
    pending_created_at DATETIME    NULL,
    updated_at         DATETIME    NOT NULL
);

CREATE TABLE recovery_codes (
    user_id    TEXT        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  BLOB        NOT NULL CHECK (length(code_hash) = 32),
    created_at DATETIME    NOT NULL,
    used_at    DATETIME    NULL,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE mfa_challenges (
    token_hash BLOB        NOT NULL PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id    TEXT        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at DATETIME    NOT NULL,
    expires_at DATETIME    NOT NULL,
    failures   INTEGER     NOT NULL DEFAULT 0 CHECK (failures >= 0),
    credential_version INTEGER     NOT NULL DEFAULT 0,
    used_at    DATETIME    NULL
);
CREATE INDEX mfa_challenges_expires_at_idx ON mfa_challenges (expires_at);
CREATE INDEX mfa_challenges_user_id_idx ON mfa_challenges (user_id);

CREATE TABLE passkeys (
    id            TEXT        NOT NULL PRIMARY KEY,
    user_id       TEXT        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT        NOT NULL DEFAULT '',
    credential_id BLOB        NOT NULL,
    credential    BLOB        NOT NULL,
    created_at    DATETIME    NOT NULL,
    last_used_at  DATETIME    NULL,
    -- A credential belongs to one account, whatever the code above does.
    CONSTRAINT passkeys_credential_id_key UNIQUE (credential_id)
);
CREATE INDEX passkeys_user_id_idx ON passkeys (user_id);

-- user_id is NULL for a discoverable login, whose user is not known until
-- the authenticator answers.
CREATE TABLE webauthn_challenges (
    id           TEXT        NOT NULL PRIMARY KEY,
    user_id      TEXT        NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose      TEXT        NOT NULL,
    -- The name asked for with registration options, used when the finish names none.
    name         TEXT        NOT NULL DEFAULT '',
    session_data BLOB        NOT NULL,
    created_at   DATETIME    NOT NULL,
    expires_at   DATETIME    NOT NULL
);
CREATE INDEX webauthn_challenges_expires_at_idx ON webauthn_challenges (expires_at);

-- +goose Down
DROP TABLE webauthn_challenges;
DROP TABLE passkeys;
DROP TABLE mfa_challenges;
DROP TABLE recovery_codes;
DROP TABLE totp_factors;
ALTER TABLE sessions DROP COLUMN auth_methods;
