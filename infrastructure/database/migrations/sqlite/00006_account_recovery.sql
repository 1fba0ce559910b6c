-- Account recovery and email (SQLite variant of the same version): verified
-- addresses, emailed tokens and the transactional mail outbox.

-- +goose Up
ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE email_tokens (
    token_hash BLOB     NOT NULL PRIMARY KEY CHECK (length(token_hash) = 32),
    purpose    TEXT     NOT NULL CHECK (purpose IN ('verify_email', 'password_reset')),
    user_id    TEXT     NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email      TEXT     NOT NULL,
    created_at DATETIME NOT NULL,
    expires_at DATETIME NOT NULL
);
CREATE INDEX email_tokens_user_purpose_idx ON email_tokens (user_id, purpose);
CREATE INDEX email_tokens_expires_at_idx ON email_tokens (expires_at);

CREATE TABLE mail_outbox (
    id              TEXT     NOT NULL PRIMARY KEY,
    kind            TEXT     NOT NULL,
    recipient       TEXT     NOT NULL,
    link            TEXT     NOT NULL DEFAULT '',
    ttl_seconds     INTEGER  NOT NULL DEFAULT 0,
    status          TEXT     NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'failed')),
    attempts        INTEGER  NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at INTEGER  NOT NULL,
    locked_until    INTEGER  NOT NULL DEFAULT 0,
    last_error      TEXT     NOT NULL DEFAULT '',
    created_at      DATETIME NOT NULL
);
CREATE INDEX mail_outbox_due_idx ON mail_outbox (status, next_attempt_at);

-- +goose Down
DROP TABLE mail_outbox;
DROP TABLE email_tokens;
ALTER TABLE users DROP COLUMN email_verified;
