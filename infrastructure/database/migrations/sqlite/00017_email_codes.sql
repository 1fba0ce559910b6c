-- Sign in with an emailed code (SQLite), as the PostgreSQL migration of
-- this version.

-- +goose Up
CREATE TABLE email_codes (
    id                 TEXT     NOT NULL PRIMARY KEY,
    email              TEXT     NOT NULL UNIQUE CHECK (email = lower(email)),
    user_id            TEXT     NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_version INTEGER  NOT NULL DEFAULT 0,
    token_hash         BLOB     NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    code_seal          BLOB     NOT NULL CHECK (length(code_seal) = 32),
    failures           INTEGER  NOT NULL DEFAULT 0 CHECK (failures >= 0),
    created_at         DATETIME NOT NULL,
    expires_at         DATETIME NOT NULL
);
CREATE INDEX email_codes_expires_at_idx ON email_codes (expires_at);
CREATE INDEX email_codes_user_id_idx ON email_codes (user_id);

-- +goose Down
DROP TABLE email_codes;
