-- Scale (issue 25): indexes the operator paths and the outbox need at a
-- million accounts, added without blocking writes.
--
-- Every index here is built CONCURRENTLY, which cannot run inside a
-- transaction: goose runs this file statement by statement, and if one
-- fails the version stays unapplied and the whole file runs again. So each
-- statement can run twice: an index is dropped (CONCURRENTLY, IF EXISTS)
-- before it is built, which also clears an INVALID one a failed build left.
--
-- Admin search matches a substring of the email or of the lower-cased
-- name (LIKE '%q%'), which no B-tree serves: trigram GIN indexes (pg_trgm,
-- shipped with PostgreSQL and a trusted extension: the database owner may
-- create it) find the rows for any term of three characters or more.
-- Newest-first paging without a term already has users_created_at_idx.
--
-- The mail sender's claim reads only the rows it may claim: a partial
-- index of pending messages by due time, so failed rows (kept for
-- operators) and however many delivered ones there were never enter it.

-- +goose NO TRANSACTION
-- +goose Up
CREATE EXTENSION IF NOT EXISTS pg_trgm;

DROP INDEX CONCURRENTLY IF EXISTS users_email_trgm_idx;
CREATE INDEX CONCURRENTLY users_email_trgm_idx ON users USING gin (email gin_trgm_ops);

DROP INDEX CONCURRENTLY IF EXISTS users_name_trgm_idx;
CREATE INDEX CONCURRENTLY users_name_trgm_idx ON users USING gin (lower(name) gin_trgm_ops);

DROP INDEX CONCURRENTLY IF EXISTS mail_outbox_claim_idx;
CREATE INDEX CONCURRENTLY mail_outbox_claim_idx ON mail_outbox (next_attempt_at) WHERE status = 'pending';
DROP INDEX CONCURRENTLY IF EXISTS mail_outbox_due_idx;

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS mail_outbox_due_idx;
CREATE INDEX CONCURRENTLY mail_outbox_due_idx ON mail_outbox (status, next_attempt_at);
DROP INDEX CONCURRENTLY IF EXISTS mail_outbox_claim_idx;
DROP INDEX CONCURRENTLY IF EXISTS users_name_trgm_idx;
DROP INDEX CONCURRENTLY IF EXISTS users_email_trgm_idx;
