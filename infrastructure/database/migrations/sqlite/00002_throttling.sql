-- Throttling state shared by every instance (SQLite variant of the same
-- version): per-account login failures and per-IP request counts.

-- +goose Up
CREATE TABLE login_throttle (
    key          TEXT     NOT NULL PRIMARY KEY,
    failures     INTEGER  NOT NULL CHECK (failures >= 0),
    window_start DATETIME NOT NULL,
    last_failure DATETIME NOT NULL,
    locked_until DATETIME NULL
);
CREATE INDEX login_throttle_last_failure_idx ON login_throttle (last_failure);

CREATE TABLE ip_rate_windows (
    ip           TEXT     NOT NULL,
    window_start DATETIME NOT NULL,
    count        INTEGER  NOT NULL CHECK (count >= 0),
    PRIMARY KEY (ip, window_start)
);
CREATE INDEX ip_rate_windows_window_start_idx ON ip_rate_windows (window_start);

-- +goose Down
DROP TABLE ip_rate_windows;
DROP TABLE login_throttle;
