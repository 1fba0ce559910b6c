-- Security round three (issue 21): the count of routine security events a
-- marker stands for, and the refresh-token MAC key sealed at rest.

-- +goose Up
-- Set on events_suppressed markers only. A nullable column without a
-- default or a check: no table rewrite, and no scan under the lock.
ALTER TABLE security_events ADD COLUMN suppressed INTEGER NULL;

-- With DATA_ENCRYPTION_KEY the key is stored sealed (sealbox text, bound to
-- the row) in sealed, and secret is NULL; without it, as before. The
-- service seals a clear row on its first start with the setting.
ALTER TABLE refresh_token_keys ALTER COLUMN secret DROP NOT NULL;
ALTER TABLE refresh_token_keys ADD COLUMN sealed TEXT NULL;
ALTER TABLE refresh_token_keys ADD CONSTRAINT refresh_token_keys_one_form CHECK ((secret IS NULL) <> (sealed IS NULL));

-- +goose Down
-- A sealed key cannot be written back in clear here: it is dropped, the
-- next start generates a new one, and sessions end at their next refresh.
DELETE FROM refresh_token_keys WHERE secret IS NULL;
ALTER TABLE refresh_token_keys DROP CONSTRAINT refresh_token_keys_one_form;
ALTER TABLE refresh_token_keys DROP COLUMN sealed;
ALTER TABLE refresh_token_keys ALTER COLUMN secret SET NOT NULL;
ALTER TABLE security_events DROP COLUMN suppressed;
