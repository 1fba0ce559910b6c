-- Sign in with an emailed code (issue 22 item 4): the pending code of each
-- address (a new table; the first step's methods of a pending login and
-- the method of a sign-in event come with 00016).

-- +goose Up
-- Every index below is on a table this migration creates: empty and unused
-- until it commits, so a plain CREATE INDEX locks nothing requests wait on
-- (CONCURRENTLY is for tables that already hold rows; README, At scale).
CREATE TABLE email_codes (
    id                 UUID        PRIMARY KEY,
    -- One pending code per address: a new one replaces the old.
    email              TEXT        NOT NULL UNIQUE CHECK (email = lower(email)),
    -- NULL when the address had no account (sign-up by code).
    user_id            UUID        NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_version BIGINT      NOT NULL DEFAULT 0,
    -- SHA-256 of the link's 256-bit token.
    token_hash         BYTEA       NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    -- HMAC-SHA256 of the six-digit code under a server key.
    code_seal          BYTEA       NOT NULL CHECK (octet_length(code_seal) = 32),
    failures           INTEGER     NOT NULL DEFAULT 0 CHECK (failures >= 0),
    created_at         TIMESTAMPTZ NOT NULL,
    expires_at         TIMESTAMPTZ NOT NULL
);
CREATE INDEX email_codes_expires_at_idx ON email_codes (expires_at);
CREATE INDEX email_codes_user_id_idx ON email_codes (user_id);

-- +goose Down
DROP TABLE email_codes;
