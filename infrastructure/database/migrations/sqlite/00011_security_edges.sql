-- Security round three (issue 21): the count of routine security events a
-- marker stands for, and the refresh-token MAC key sealed at rest.

-- +goose Up
-- Set on events_suppressed markers only.
ALTER TABLE security_events ADD COLUMN suppressed INTEGER NULL;

-- With DATA_ENCRYPTION_KEY the key is stored sealed (sealbox text, bound to
-- the row) in sealed, and secret is NULL; without it, as before. SQLite
-- cannot relax a column, so the one-row table is rebuilt.
CREATE TABLE refresh_token_keys_new (
    id         INTEGER     NOT NULL PRIMARY KEY CHECK (id = 1),
    secret     BLOB        NULL CHECK (secret IS NULL OR length(secret) = 32),
    sealed     TEXT        NULL,
    created_at DATETIME    NOT NULL,
    CHECK ((secret IS NULL) <> (sealed IS NULL))
);
INSERT INTO refresh_token_keys_new (id, secret, sealed, created_at) SELECT id, secret, NULL, created_at FROM refresh_token_keys;
DROP TABLE refresh_token_keys;
ALTER TABLE refresh_token_keys_new RENAME TO refresh_token_keys;

-- +goose Down
-- A sealed key cannot be written back in clear here: it is dropped, the
-- next start generates a new one, and sessions end at their next refresh.
CREATE TABLE refresh_token_keys_old (
    id         INTEGER     NOT NULL PRIMARY KEY CHECK (id = 1),
    secret     BLOB        NOT NULL CHECK (length(secret) = 32),
    created_at DATETIME    NOT NULL
);
INSERT INTO refresh_token_keys_old (id, secret, created_at) SELECT id, secret, created_at FROM refresh_token_keys WHERE secret IS NOT NULL;
DROP TABLE refresh_token_keys;
ALTER TABLE refresh_token_keys_old RENAME TO refresh_token_keys;
ALTER TABLE security_events DROP COLUMN suppressed;
