-- Throttling state shared by every instance: per-account login failures and
-- per-IP request counts in fixed windows.

-- +goose Up
CREATE TABLE login_throttle (
    key          TEXT        PRIMARY KEY,
    failures     INTEGER     NOT NULL CHECK (failures >= 0),
    window_start TIMESTAMPTZ NOT NULL,
    last_failure TIMESTAMPTZ NOT NULL,
    locked_until TIMESTAMPTZ NULL
);
CREATE INDEX login_throttle_last_failure_idx ON login_throttle (last_failure);

CREATE TABLE ip_rate_windows (
    ip           TEXT        NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    count        BIGINT      NOT NULL CHECK (count >= 0),
    PRIMARY KEY (ip, window_start)
);
CREATE INDEX ip_rate_windows_window_start_idx ON ip_rate_windows (window_start);

-- +goose Down
DROP TABLE ip_rate_windows;
DROP TABLE login_throttle;
