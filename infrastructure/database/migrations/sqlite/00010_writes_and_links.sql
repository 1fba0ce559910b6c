-- Issue 21 (stale writes, mailed links), SQLite variant of the same
-- version: the enabled administrators found without a scan, for the
-- last-admin rule.

-- +goose Up
-- The predicate is written exactly as the queries write it, so the planner
-- uses the index for them; roles are stored comma-separated.
CREATE INDEX users_admins_idx ON users (id) WHERE (',' || roles || ',') LIKE '%,admin,%';

-- +goose Down
DROP INDEX users_admins_idx;
