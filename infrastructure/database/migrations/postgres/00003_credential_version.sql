-- A counter every credential change (password change, later reset or admin
-- disable) bumps. A login re-reads it, share-locked, in the transaction that
-- starts the session: a session proven with an older credential is never
-- created. The created_at index serves the security-event retention purge.

-- +goose Up
ALTER TABLE users ADD COLUMN credential_version BIGINT NOT NULL DEFAULT 0;
CREATE INDEX security_events_created_at_idx ON security_events (created_at);

-- +goose Down
DROP INDEX security_events_created_at_idx;
ALTER TABLE users DROP COLUMN credential_version;
