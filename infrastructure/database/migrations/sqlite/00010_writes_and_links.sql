-- Issue 21 (SQLite variant of the same version): the enabled administrators
-- found without a scan, for the last-admin rule; mailed links rendered at
-- send time instead of stored in the outbox; reset and email-change links
-- bound to the credential version; the email-change confirmation link.

-- +goose Up
-- The predicate is written exactly as the queries write it, so the planner
-- uses the index for them; roles are stored comma-separated.
CREATE INDEX users_admins_idx ON users (id) WHERE (',' || roles || ',') LIKE '%,admin,%';

-- SQLite cannot change a CHECK constraint: email_tokens is rebuilt, with
-- the credential version a reset or email-change link was issued under (a
-- password change voids it; links issued before this carry 0, so they keep
-- working only for accounts whose password never changed).
CREATE TABLE email_tokens_new (
    token_hash         BLOB     NOT NULL PRIMARY KEY CHECK (length(token_hash) = 32),
    purpose            TEXT     NOT NULL CHECK (purpose IN ('verify_email', 'password_reset', 'change_email')),
    user_id            TEXT     NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email              TEXT     NOT NULL,
    created_at         DATETIME NOT NULL,
    expires_at         DATETIME NOT NULL,
    credential_version INTEGER  NOT NULL DEFAULT 0
);
-- Messages queued before this held their link in clear. They are still
-- delivered, with a new link made at send time; the tokens of the links
-- that sat readable in the outbox are not carried over.
INSERT INTO email_tokens_new (token_hash, purpose, user_id, email, created_at, expires_at)
    SELECT token_hash, purpose, user_id, email, created_at, expires_at FROM email_tokens t
    WHERE NOT EXISTS (SELECT 1 FROM mail_outbox o
        WHERE o.link <> '' AND o.kind = t.purpose AND o.recipient = t.email);
DROP TABLE email_tokens;
ALTER TABLE email_tokens_new RENAME TO email_tokens;
CREATE INDEX email_tokens_user_purpose_idx ON email_tokens (user_id, purpose);
CREATE INDEX email_tokens_expires_at_idx ON email_tokens (expires_at);

-- The account a queued link is for; the link itself is made when the mail
-- is sent and never stored.
ALTER TABLE mail_outbox ADD COLUMN user_id TEXT NULL;
UPDATE mail_outbox SET link = '' WHERE link <> '';

-- +goose Down
ALTER TABLE mail_outbox DROP COLUMN user_id;
CREATE TABLE email_tokens_old (
    token_hash BLOB     NOT NULL PRIMARY KEY CHECK (length(token_hash) = 32),
    purpose    TEXT     NOT NULL CHECK (purpose IN ('verify_email', 'password_reset')),
    user_id    TEXT     NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email      TEXT     NOT NULL,
    created_at DATETIME NOT NULL,
    expires_at DATETIME NOT NULL
);
INSERT INTO email_tokens_old (token_hash, purpose, user_id, email, created_at, expires_at)
    SELECT token_hash, purpose, user_id, email, created_at, expires_at FROM email_tokens
    WHERE purpose <> 'change_email';
DROP TABLE email_tokens;
ALTER TABLE email_tokens_old RENAME TO email_tokens;
CREATE INDEX email_tokens_user_purpose_idx ON email_tokens (user_id, purpose);
CREATE INDEX email_tokens_expires_at_idx ON email_tokens (expires_at);
DROP INDEX users_admins_idx;
