-- The refresh state moves into the session row (PostgreSQL): the current
-- token's hash, its predecessor's, the rotation time and the sealed
-- successor. A rotation is then one UPDATE of one row, and a session's
-- storage no longer grows with its refreshes. Older tokens are recognised
-- by their MAC (see domain/session) and need no row.
--
-- refresh_tokens keeps the tokens issued before this version (a plain
-- random format with no MAC): they stay valid until they rotate, and their
-- rows are what recognises them as ancestors afterwards. No row is added to
-- it any more; it empties as those sessions are purged.

-- +goose Up
ALTER TABLE sessions ADD COLUMN token_hash BYTEA NULL CHECK (octet_length(token_hash) = 32);
ALTER TABLE sessions ADD COLUMN prev_token_hash BYTEA NULL CHECK (octet_length(prev_token_hash) = 32);
ALTER TABLE sessions ADD COLUMN rotated_at TIMESTAMPTZ NULL;
ALTER TABLE sessions ADD COLUMN successor_sealed BYTEA NULL;

UPDATE sessions s SET token_hash = t.token_hash
FROM refresh_tokens t WHERE t.session_id = s.id AND t.generation = s.generation;

UPDATE sessions s SET prev_token_hash = t.token_hash, rotated_at = t.rotated_at, successor_sealed = t.successor_sealed
FROM refresh_tokens t WHERE t.session_id = s.id AND t.generation = s.generation - 1;

-- A rotation should be a HOT update (no index entry written): no index may
-- cover a column it changes, and the page needs room for the new version.
-- idle_expires_at changes on every refresh, so its index goes; the purge,
-- which runs rarely, scans for idle-expired sessions instead.
DROP INDEX sessions_idle_expires_at_idx;
ALTER TABLE sessions SET (fillfactor = 70);

-- The MAC key of refresh tokens when REFRESH_TOKEN_KEY is not set: the
-- first instance to start stores one (id = 1 lets exactly one insert win),
-- every instance on the database uses it.
CREATE TABLE refresh_token_keys (
    id         INTEGER     NOT NULL PRIMARY KEY CHECK (id = 1),
    secret     BYTEA       NOT NULL CHECK (octet_length(secret) = 32),
    created_at TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE refresh_token_keys;
ALTER TABLE sessions RESET (fillfactor);
CREATE INDEX sessions_idle_expires_at_idx ON sessions (idle_expires_at);
-- Tokens issued since the Up cannot be written back as rows (their older
-- generations were never stored); their sessions end.
DELETE FROM sessions WHERE token_hash IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.token_hash = sessions.token_hash);
ALTER TABLE sessions DROP COLUMN successor_sealed;
ALTER TABLE sessions DROP COLUMN rotated_at;
ALTER TABLE sessions DROP COLUMN prev_token_hash;
ALTER TABLE sessions DROP COLUMN token_hash;
