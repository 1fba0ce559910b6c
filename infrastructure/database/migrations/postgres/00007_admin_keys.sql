-- Administration and signing-key rotation: disabled accounts (the verified
-- flag an administrator can set is 00006's), the actor of an administrative event, and
-- when each signing key starts signing (keys are published ahead of that).

-- +goose Up
ALTER TABLE users ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE security_events ADD COLUMN actor_id TEXT NULL;
ALTER TABLE signing_keys ADD COLUMN activates_at TIMESTAMPTZ NULL;
UPDATE signing_keys SET activates_at = created_at;
-- The first key keeps slot 1; rotations add slot 2, 3, ... (the key's
-- generation), and the unique slot lets one of several instances rotating
-- at once win.
UPDATE signing_keys SET slot = 1 WHERE slot IS NULL AND NOT EXISTS (SELECT 1 FROM signing_keys WHERE slot = 1);
-- Admin search by email or name, newest accounts first.
CREATE INDEX users_created_at_idx ON users (created_at DESC, id DESC);

-- +goose Down
DROP INDEX users_created_at_idx;
ALTER TABLE signing_keys DROP COLUMN activates_at;
ALTER TABLE security_events DROP COLUMN actor_id;
ALTER TABLE users DROP COLUMN disabled;
