-- Administration and signing-key rotation: disabled accounts (the verified
-- flag an administrator can set is 00006's), the actor of an administrative event, and
-- when each signing key starts signing (keys are published ahead of that).
--
-- Safe on big tables (see the README's rule for migrations): statement by
-- statement, each re-runnable; the new columns rewrite nothing and the
-- index is built without blocking writes. In one transaction, users stayed
-- locked exclusively while its index was built.

-- +goose NO TRANSACTION
-- +goose Up
ALTER TABLE users ADD COLUMN IF NOT EXISTS disabled BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE security_events ADD COLUMN IF NOT EXISTS actor_id TEXT NULL;
ALTER TABLE signing_keys ADD COLUMN IF NOT EXISTS activates_at TIMESTAMPTZ NULL;
UPDATE signing_keys SET activates_at = created_at WHERE activates_at IS NULL;
-- The first key keeps slot 1; rotations add slot 2, 3, ... (the key's
-- generation), and the unique slot lets one of several instances rotating
-- at once win.
UPDATE signing_keys SET slot = 1 WHERE slot IS NULL AND NOT EXISTS (SELECT 1 FROM signing_keys WHERE slot = 1);
-- Admin search by email or name, newest accounts first.
DROP INDEX CONCURRENTLY IF EXISTS users_created_at_idx;
CREATE INDEX CONCURRENTLY users_created_at_idx ON users (created_at DESC, id DESC);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS users_created_at_idx;
ALTER TABLE signing_keys DROP COLUMN IF EXISTS activates_at;
ALTER TABLE security_events DROP COLUMN IF EXISTS actor_id;
ALTER TABLE users DROP COLUMN IF EXISTS disabled;
