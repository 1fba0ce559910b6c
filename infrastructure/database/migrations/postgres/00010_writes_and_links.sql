-- Issue 21 (stale writes, mailed links): the enabled administrators found
-- without a scan, for the lock the last-admin rule takes.
--
-- No transaction: CREATE INDEX CONCURRENTLY cannot run in one, and it builds
-- the index without blocking writes to users. Each statement is safe to run
-- again after a failure part way (goose then records nothing): an index a
-- failed build left INVALID is dropped and built again.

-- +goose NO TRANSACTION
-- +goose Up
DROP INDEX CONCURRENTLY IF EXISTS users_admins_idx;
-- The predicate is written exactly as the queries write it, so the planner
-- knows the index covers them; roles are stored comma-separated.
CREATE INDEX CONCURRENTLY users_admins_idx ON users (id) WHERE (',' || roles || ',') LIKE '%,admin,%';

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS users_admins_idx;
