-- SQLite variant of the same version.
-- Second-factor safety: the account's consecutive failed second-factor
-- codes (TOTP and recovery codes), against which MFA_MAX_FAILURES is a
-- ceiling. Kept on the TOTP row, since codes exist only while TOTP is on.
-- Changed only by an atomic increment (failed_codes = failed_codes + 1) or
-- a reset to 0.

-- +goose Up
ALTER TABLE totp_factors ADD COLUMN failed_codes INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE totp_factors DROP COLUMN failed_codes;
