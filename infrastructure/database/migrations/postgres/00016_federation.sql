-- Sign in with other providers (issue 22): identities linked to accounts,
-- the server-side state of flows at a provider, and the app's one-time
-- codes; sessions, pending second-factor sign-ins and security events learn
-- the provider. New tables, and columns with constant defaults (no rewrite
-- of the big tables, a brief lock each).

-- +goose Up
-- Every index below is on a table this migration creates: empty and unused
-- until it commits, so a plain CREATE INDEX locks nothing requests wait on
-- (CONCURRENTLY is for tables that already hold rows; README, At scale).
CREATE TABLE federated_identities (
    id         UUID        PRIMARY KEY,
    user_id    UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider   TEXT        NOT NULL,
    subject    TEXT        NOT NULL,
    email      TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT federated_identities_provider_subject_key UNIQUE (provider, subject)
);
CREATE INDEX federated_identities_user_id_idx ON federated_identities (user_id);

-- One trip to a provider: single use (deleted when taken), found by the
-- SHA-256 of its state.
CREATE TABLE federation_flows (
    state_hash     BYTEA       PRIMARY KEY CHECK (length(state_hash) = 32),
    provider       TEXT        NOT NULL,
    nonce          TEXT        NOT NULL,
    verifier       TEXT        NOT NULL,
    redirect_to    TEXT        NOT NULL,
    code_challenge TEXT        NOT NULL,
    link_user_id   UUID        NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     TIMESTAMPTZ NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX federation_flows_expires_at_idx ON federation_flows (expires_at);

-- The app's one-time code, bound to its PKCE challenge.
CREATE TABLE federation_codes (
    code_hash      BYTEA       PRIMARY KEY CHECK (length(code_hash) = 32),
    user_id        UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider       TEXT        NOT NULL,
    code_challenge TEXT        NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX federation_codes_expires_at_idx ON federation_codes (expires_at);

ALTER TABLE sessions ADD COLUMN idp TEXT NOT NULL DEFAULT '';
ALTER TABLE mfa_challenges ADD COLUMN first_methods TEXT NOT NULL DEFAULT '';
ALTER TABLE mfa_challenges ADD COLUMN idp TEXT NOT NULL DEFAULT '';
ALTER TABLE security_events ADD COLUMN method TEXT NOT NULL DEFAULT '';
ALTER TABLE security_events ADD COLUMN provider TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE security_events DROP COLUMN provider;
ALTER TABLE security_events DROP COLUMN method;
ALTER TABLE mfa_challenges DROP COLUMN idp;
ALTER TABLE mfa_challenges DROP COLUMN first_methods;
ALTER TABLE sessions DROP COLUMN idp;
DROP TABLE federation_codes;
DROP TABLE federation_flows;
DROP TABLE federated_identities;
