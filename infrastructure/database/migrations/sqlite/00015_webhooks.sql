-- Webhooks, hooks and app claims (SQLite), as the PostgreSQL migration of
-- this version.

-- +goose Up
ALTER TABLE users ADD COLUMN app_metadata TEXT NOT NULL DEFAULT '';

CREATE TABLE webhook_outbox (
    seq             INTEGER     PRIMARY KEY AUTOINCREMENT,
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
    created_at      DATETIME    NOT NULL
);
CREATE INDEX webhook_outbox_claim_idx ON webhook_outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_outbox_user_idx ON webhook_outbox (user_id, seq) WHERE status = 'pending';
CREATE INDEX webhook_outbox_status_idx ON webhook_outbox (status, seq);

-- +goose Down
DROP TABLE webhook_outbox;
ALTER TABLE users DROP COLUMN app_metadata;
