-- Webhooks, hooks and app claims (issue 23): the administrators' JSON
-- object about an account, and the outbox of events to deliver.
--
-- The column has a constant default, so PostgreSQL adds it without
-- rewriting or long-locking users; the outbox is a new table.

-- +goose Up
-- Every index below is on a table this migration creates: empty and unused
-- until it commits, so a plain CREATE INDEX locks nothing requests wait on
-- (CONCURRENTLY is for tables that already hold rows; README, At scale).
ALTER TABLE users ADD COLUMN app_metadata TEXT NOT NULL DEFAULT '';

-- One row per event, written in the transaction of the change it reports.
-- seq orders one user's events (delivery keeps that order while none
-- fails) and pages the admin list; body is the JSON posted, holding
-- nothing secret. Times the sender compares are Unix milliseconds, as in
-- mail_outbox.
CREATE TABLE webhook_outbox (
    seq             BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              TEXT        NOT NULL UNIQUE,
    type            TEXT        NOT NULL,
    user_id         TEXT        NOT NULL DEFAULT '',
    body            TEXT        NOT NULL,
    status          TEXT        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at BIGINT      NOT NULL,
    locked_until    BIGINT      NOT NULL DEFAULT 0,
    -- Retries end 24 hours after this: the write, or an operator's retry.
    window_from     BIGINT      NOT NULL,
    last_error      TEXT        NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL
);
-- The claim reads only pending rows (delivered and failed ones stay for
-- operators); the per-user order check reads a user's pending rows by seq.
CREATE INDEX webhook_outbox_claim_idx ON webhook_outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_outbox_user_idx ON webhook_outbox (user_id, seq) WHERE status = 'pending';
CREATE INDEX webhook_outbox_status_idx ON webhook_outbox (status, seq);

-- +goose Down
DROP TABLE webhook_outbox;
ALTER TABLE users DROP COLUMN app_metadata;
