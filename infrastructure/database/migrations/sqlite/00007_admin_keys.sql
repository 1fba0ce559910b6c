-- Administration and signing-key rotation (SQLite), as the PostgreSQL
-- migration of this version.

-- +goose Up
ALTER TABLE users ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE security_events ADD COLUMN actor_id TEXT NULL;
ALTER TABLE signing_keys ADD COLUMN activates_at DATETIME NULL;
UPDATE signing_keys SET activates_at = created_at;
UPDATE signing_keys SET slot = 1 WHERE slot IS NULL AND NOT EXISTS (SELECT 1 FROM signing_keys WHERE slot = 1);
CREATE INDEX users_created_at_idx ON users (created_at DESC, id DESC);

-- +goose Down
DROP INDEX users_created_at_idx;
ALTER TABLE signing_keys DROP COLUMN activates_at;
ALTER TABLE security_events DROP COLUMN actor_id;
ALTER TABLE users DROP COLUMN disabled;
