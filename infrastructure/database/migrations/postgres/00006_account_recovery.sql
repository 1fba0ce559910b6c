-- Account recovery and email: verified addresses, emailed tokens (stored
-- hashed, single-use) and the transactional mail outbox.

-- +goose Up
ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT FALSE;

-- A token is deleted when used, so a row here is an unused one. email is the
-- address the link went to: a token is void once the account moves away.
CREATE TABLE email_tokens (
    token_hash BYTEA       PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    purpose    TEXT        NOT NULL CHECK (purpose IN ('verify_email', 'password_reset')),
    user_id    UUID        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email      TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX email_tokens_user_purpose_idx ON email_tokens (user_id, purpose);
CREATE INDEX email_tokens_expires_at_idx ON email_tokens (expires_at);

-- Written in the transaction of the token a message carries; the sender
-- deletes a row once its message was accepted by the SMTP server. Times the
-- sender compares are Unix milliseconds, read the same way on both engines.
-- locked_until is the claim: an instance sending a row holds it until then.
CREATE TABLE mail_outbox (
    id              UUID        PRIMARY KEY,
    kind            TEXT        NOT NULL,
    recipient       TEXT        NOT NULL,
    link            TEXT        NOT NULL DEFAULT '',
    ttl_seconds     BIGINT      NOT NULL DEFAULT 0,
    status          TEXT        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'failed')),
    attempts        INTEGER     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at BIGINT      NOT NULL,
    locked_until    BIGINT      NOT NULL DEFAULT 0,
    last_error      TEXT        NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX mail_outbox_due_idx ON mail_outbox (status, next_attempt_at);

-- +goose Down
DROP TABLE mail_outbox;
DROP TABLE email_tokens;
ALTER TABLE users DROP COLUMN email_verified;
