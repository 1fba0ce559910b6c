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
--
-- Safe on big tables (see the README's rule for migrations): statement by
-- statement, each re-runnable. The columns are added without their checks
-- (a check on a new column scans the table under the exclusive lock), the
-- checks are added NOT VALID and validated without blocking writes, and
-- the copy from refresh_tokens runs in batches of 5,000 sessions, each its
-- own transaction. In one transaction, sessions stayed locked exclusively
-- for the whole copy: minutes at a million sessions.

-- +goose NO TRANSACTION
-- +goose Up
ALTER TABLE sessions ADD COLUMN IF NOT EXISTS token_hash BYTEA NULL;
ALTER TABLE sessions ADD COLUMN IF NOT EXISTS prev_token_hash BYTEA NULL;
ALTER TABLE sessions ADD COLUMN IF NOT EXISTS rotated_at TIMESTAMPTZ NULL;
ALTER TABLE sessions ADD COLUMN IF NOT EXISTS successor_sealed BYTEA NULL;
ALTER TABLE sessions DROP CONSTRAINT IF EXISTS sessions_token_hash_check;
ALTER TABLE sessions ADD CONSTRAINT sessions_token_hash_check CHECK (octet_length(token_hash) = 32) NOT VALID;
ALTER TABLE sessions DROP CONSTRAINT IF EXISTS sessions_prev_token_hash_check;
ALTER TABLE sessions ADD CONSTRAINT sessions_prev_token_hash_check CHECK (octet_length(prev_token_hash) = 32) NOT VALID;
ALTER TABLE sessions VALIDATE CONSTRAINT sessions_token_hash_check;
ALTER TABLE sessions VALIDATE CONSTRAINT sessions_prev_token_hash_check;

-- The copy, 5,000 sessions (by id) a transaction: each batch holds the row
-- locks of its sessions for a few milliseconds. Re-running it copies only
-- what is still missing.
-- +goose StatementBegin
DO $$
DECLARE
    lo uuid := '00000000-0000-0000-0000-000000000000';
    hi uuid;
BEGIN
    LOOP
        SELECT id INTO hi FROM sessions WHERE id > lo ORDER BY id OFFSET 4999 LIMIT 1;
        UPDATE sessions s SET token_hash = t.token_hash
        FROM refresh_tokens t
        WHERE s.id > lo AND (hi IS NULL OR s.id <= hi) AND s.token_hash IS NULL
            AND t.session_id = s.id AND t.generation = s.generation;
        UPDATE sessions s SET prev_token_hash = t.token_hash, rotated_at = t.rotated_at, successor_sealed = t.successor_sealed
        FROM refresh_tokens t
        WHERE s.id > lo AND (hi IS NULL OR s.id <= hi) AND s.prev_token_hash IS NULL
            AND t.session_id = s.id AND t.generation = s.generation - 1;
        COMMIT;
        EXIT WHEN hi IS NULL;
        lo := hi;
    END LOOP;
END
$$;
-- +goose StatementEnd

-- A rotation should be a HOT update (no index entry written): no index may
-- cover a column it changes, and the page needs room for the new version.
-- idle_expires_at changes on every refresh, so its index goes; the purge,
-- which runs rarely, scans for idle-expired sessions instead.
DROP INDEX CONCURRENTLY IF EXISTS sessions_idle_expires_at_idx;
ALTER TABLE sessions SET (fillfactor = 70);

-- The MAC key of refresh tokens when REFRESH_TOKEN_KEY is not set: the
-- first instance to start stores one (id = 1 lets exactly one insert win),
-- every instance on the database uses it.
CREATE TABLE IF NOT EXISTS refresh_token_keys (
    id         INTEGER     NOT NULL PRIMARY KEY CHECK (id = 1),
    secret     BYTEA       NOT NULL CHECK (octet_length(secret) = 32),
    created_at TIMESTAMPTZ NOT NULL
);

-- +goose Down
DROP TABLE IF EXISTS refresh_token_keys;
ALTER TABLE sessions RESET (fillfactor);
CREATE INDEX CONCURRENTLY IF NOT EXISTS sessions_idle_expires_at_idx ON sessions (idle_expires_at);
-- Tokens issued since the Up cannot be written back as rows (their older
-- generations were never stored); their sessions end.
DELETE FROM sessions WHERE token_hash IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.token_hash = sessions.token_hash);
ALTER TABLE sessions DROP COLUMN IF EXISTS successor_sealed;
ALTER TABLE sessions DROP COLUMN IF EXISTS rotated_at;
ALTER TABLE sessions DROP COLUMN IF EXISTS prev_token_hash;
ALTER TABLE sessions DROP COLUMN IF EXISTS token_hash;
