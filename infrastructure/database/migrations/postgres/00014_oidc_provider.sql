-- Gatehouse as an OpenID provider (issue 27): registered clients, the
-- authorization requests handed to the login page (and their codes), the
-- consent each user gave each client, which sessions belong to a client,
-- and the RSA keys that sign ID tokens. All new tables: nothing existing is
-- rewritten or locked.

-- +goose Up
-- Every index below is on a table this migration creates: empty and unused
-- until it commits, so a plain CREATE INDEX locks nothing requests wait on
-- (CONCURRENTLY is for tables that already hold rows; README, At scale).
CREATE TABLE oauth_clients (
    client_id                 TEXT        PRIMARY KEY,
    -- SHA-256 of the secret (256 random bits, so a slow hash buys nothing);
    -- NULL for public clients.
    secret_hash               BYTEA       NULL CHECK (length(secret_hash) = 32),
    name                      TEXT        NOT NULL,
    redirect_uris             TEXT        NOT NULL,
    post_logout_redirect_uris TEXT        NOT NULL,
    public                    BOOLEAN     NOT NULL,
    first_party               BOOLEAN     NOT NULL,
    scopes                    TEXT        NOT NULL,
    id_token_alg              TEXT        NOT NULL,
    created_at                TIMESTAMPTZ NOT NULL
);

-- An authorization request from /oauth2/authorize until its code is spent:
-- single use, looked up by its id (the login page) and then by the hash of
-- its code (the token endpoint).
CREATE TABLE oauth_requests (
    id                    TEXT        PRIMARY KEY,
    client_id             TEXT        NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    redirect_uri          TEXT        NOT NULL,
    scopes                TEXT        NOT NULL,
    state                 TEXT        NOT NULL,
    nonce                 TEXT        NOT NULL,
    code_challenge        TEXT        NOT NULL,
    code_challenge_method TEXT        NOT NULL,
    response_mode         TEXT        NOT NULL,
    prompt                TEXT        NOT NULL,
    max_age               INTEGER     NULL,
    created_at            TIMESTAMPTZ NOT NULL,
    expires_at            TIMESTAMPTZ NOT NULL,
    done_at               TIMESTAMPTZ NULL,
    user_id               UUID        NULL REFERENCES users (id) ON DELETE CASCADE,
    granted_scopes        TEXT        NOT NULL DEFAULT '',
    auth_time             TIMESTAMPTZ NULL,
    auth_methods          TEXT        NOT NULL DEFAULT '',
    -- The app session whose token accepted the request: its code opens
    -- nothing once that session has ended (a password change meanwhile).
    login_session_id      UUID        NULL,
    session_id            UUID        NULL,
    code_hash             BYTEA       NULL UNIQUE CHECK (length(code_hash) = 32),
    code_expires_at       TIMESTAMPTZ NULL,
    code_used_at          TIMESTAMPTZ NULL
);
CREATE INDEX oauth_requests_expires_at_idx ON oauth_requests (expires_at);

-- Consent, remembered per user and client for the scopes granted.
CREATE TABLE oauth_grants (
    user_id    UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT        NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    scopes     TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
CREATE INDEX oauth_grants_client_id_idx ON oauth_grants (client_id);

-- The sessions a client holds: a session row like any other (listed,
-- revoked, capped and purged with the user's), plus what the client was
-- granted. Kept beside sessions so that table is not altered.
CREATE TABLE oauth_sessions (
    session_id UUID        PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    client_id  TEXT        NOT NULL REFERENCES oauth_clients (client_id) ON DELETE CASCADE,
    user_id    UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scopes     TEXT        NOT NULL,
    nonce      TEXT        NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX oauth_sessions_client_id_idx ON oauth_sessions (client_id);
CREATE INDEX oauth_sessions_user_client_idx ON oauth_sessions (user_id, client_id);

-- The RSA keys that sign ID tokens (RS256), kept and rotated exactly like
-- signing_keys (sealed with DATA_ENCRYPTION_KEY, one row per generation).
CREATE TABLE oidc_signing_keys (
    kid             TEXT        PRIMARY KEY,
    alg             TEXT        NOT NULL,
    private_key_pem TEXT        NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    slot            INTEGER     NULL,
    activates_at    TIMESTAMPTZ NULL,
    CONSTRAINT oidc_signing_keys_slot_key UNIQUE (slot)
);

-- +goose Down
DROP TABLE oidc_signing_keys;
DROP TABLE oauth_sessions;
DROP TABLE oauth_grants;
DROP TABLE oauth_requests;
DROP TABLE oauth_clients;
