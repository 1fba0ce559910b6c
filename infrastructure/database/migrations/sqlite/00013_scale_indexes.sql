-- Scale (issue 25), SQLite variant of the same version: the mail sender's
-- claim reads a partial index of pending messages by due time, so failed
-- rows (kept for operators) never enter it. Admin search by substring has
-- no index on SQLite (LIKE '%q%' reads the accounts newest first until a
-- page is full; see the README's "At scale").

-- +goose Up
CREATE INDEX mail_outbox_claim_idx ON mail_outbox (next_attempt_at) WHERE status = 'pending';
DROP INDEX mail_outbox_due_idx;

-- +goose Down
CREATE INDEX mail_outbox_due_idx ON mail_outbox (status, next_attempt_at);
DROP INDEX mail_outbox_claim_idx;
