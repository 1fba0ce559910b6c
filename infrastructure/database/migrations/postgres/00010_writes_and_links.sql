-- Issue 21: the enabled administrators found without a scan, for the lock
-- the last-admin rule takes; mailed links rendered at send time instead of
-- stored in the outbox; reset and email-change links bound to the
-- credential version; the email-change confirmation link.
--
-- No transaction: CREATE INDEX CONCURRENTLY cannot run in one, and it builds
-- the index without blocking writes to users. Each statement is safe to run
-- again after a failure part way (goose then records nothing): an index a
-- failed build left INVALID is dropped and built again. No table is
-- rewritten: new columns are nullable or have a constant default.

-- +goose NO TRANSACTION
-- +goose Up
DROP INDEX CONCURRENTLY IF EXISTS users_admins_idx;
-- The predicate is written exactly as the queries write it, so the planner
-- knows the index covers them; roles are stored comma-separated.
CREATE INDEX CONCURRENTLY users_admins_idx ON users (id) WHERE (',' || roles || ',') LIKE '%,admin,%';

-- The credential version a reset or email-change link was issued under: a
-- password change voids it. Links issued before this carry 0, so they keep
-- working only for accounts whose password never changed.
ALTER TABLE email_tokens ADD COLUMN IF NOT EXISTS credential_version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE email_tokens DROP CONSTRAINT IF EXISTS email_tokens_purpose_check;
ALTER TABLE email_tokens ADD CONSTRAINT email_tokens_purpose_check
    CHECK (purpose IN ('verify_email', 'password_reset', 'change_email')) NOT VALID;
ALTER TABLE email_tokens VALIDATE CONSTRAINT email_tokens_purpose_check;

-- The account a queued link is for; the link itself is made when the mail
-- is sent and never stored.
ALTER TABLE mail_outbox ADD COLUMN IF NOT EXISTS user_id UUID NULL;

-- Messages queued before this held their link in clear. They are still
-- delivered, with a new link made at send time; the tokens of the links
-- that sat readable here are void from now on.
DELETE FROM email_tokens t USING mail_outbox o
    WHERE o.link <> '' AND t.purpose = o.kind AND t.email = o.recipient;
UPDATE mail_outbox SET link = '' WHERE link <> '';

-- +goose Down
ALTER TABLE mail_outbox DROP COLUMN IF EXISTS user_id;
DELETE FROM email_tokens WHERE purpose = 'change_email';
ALTER TABLE email_tokens DROP CONSTRAINT IF EXISTS email_tokens_purpose_check;
ALTER TABLE email_tokens ADD CONSTRAINT email_tokens_purpose_check
    CHECK (purpose IN ('verify_email', 'password_reset'));
ALTER TABLE email_tokens DROP COLUMN IF EXISTS credential_version;
DROP INDEX CONCURRENTLY IF EXISTS users_admins_idx;
