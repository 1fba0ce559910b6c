-- A counter every credential change (password change, later reset or admin
-- disable) bumps. A login re-reads it, share-locked, in the transaction that
-- starts the session: a session proven with an older credential is never
-- created. The created_at index serves the security-event retention purge.
--
-- Safe on big tables (see the README's rule for migrations): run statement
-- by statement, each one re-runnable, so the exclusive lock the new column
-- needs lasts as long as adding it (a constant default rewrites nothing)
-- and the index is built without blocking writes to security_events. In
-- one transaction, users stayed locked while the index was built.

-- +goose NO TRANSACTION
-- +goose Up
ALTER TABLE users ADD COLUMN IF NOT EXISTS credential_version BIGINT NOT NULL DEFAULT 0;
DROP INDEX CONCURRENTLY IF EXISTS security_events_created_at_idx;
CREATE INDEX CONCURRENTLY security_events_created_at_idx ON security_events (created_at);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS security_events_created_at_idx;
ALTER TABLE users DROP COLUMN IF EXISTS credential_version;
