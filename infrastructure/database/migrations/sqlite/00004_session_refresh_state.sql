-- The refresh state moves into the session row (SQLite); see the
-- PostgreSQL migration of this version for why.

-- +goose Up
ALTER TABLE sessions ADD COLUMN token_hash BLOB NULL CHECK (length(token_hash) = 32);
ALTER TABLE sessions ADD COLUMN prev_token_hash BLOB NULL CHECK (length(prev_token_hash) = 32);
ALTER TABLE sessions ADD COLUMN rotated_at DATETIME NULL;
ALTER TABLE sessions ADD COLUMN successor_sealed BLOB NULL;

UPDATE sessions SET token_hash = (
    SELECT t.token_hash FROM refresh_tokens t WHERE t.session_id = sessions.id AND t.generation = sessions.generation);

UPDATE sessions SET
    prev_token_hash = (SELECT t.token_hash FROM refresh_tokens t WHERE t.session_id = sessions.id AND t.generation = sessions.generation - 1),
    rotated_at = (SELECT t.rotated_at FROM refresh_tokens t WHERE t.session_id = sessions.id AND t.generation = sessions.generation - 1),
    successor_sealed = (SELECT t.successor_sealed FROM refresh_tokens t WHERE t.session_id = sessions.id AND t.generation = sessions.generation - 1);

-- idle_expires_at changes on every refresh; its index would cost every
-- rotation a delete and an insert, for a purge that runs rarely.
DROP INDEX sessions_idle_expires_at_idx;

-- The MAC key of refresh tokens when REFRESH_TOKEN_KEY is not set: the
-- first instance to start stores one (id = 1 lets exactly one insert win),
-- every instance on the database uses it.
CREATE TABLE refresh_token_keys (
    id         INTEGER     NOT NULL PRIMARY KEY CHECK (id = 1),
    secret     BLOB        NOT NULL CHECK (length(secret) = 32),
    created_at DATETIME    NOT NULL
);

-- +goose Down
DROP TABLE refresh_token_keys;
CREATE INDEX sessions_idle_expires_at_idx ON sessions (idle_expires_at);
DELETE FROM sessions WHERE token_hash IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.token_hash = sessions.token_hash);
ALTER TABLE sessions DROP COLUMN successor_sealed;
ALTER TABLE sessions DROP COLUMN rotated_at;
ALTER TABLE sessions DROP COLUMN prev_token_hash;
ALTER TABLE sessions DROP COLUMN token_hash;
