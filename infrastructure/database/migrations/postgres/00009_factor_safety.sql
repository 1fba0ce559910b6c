-- Second-factor safety: the account's consecutive failed second-factor
-- codes (TOTP and recovery codes), against which MFA_MAX_FAILURES is a
-- ceiling. Kept on the TOTP row, since codes exist only while TOTP is on.
-- Changed only by an atomic increment (failed_codes = failed_codes + 1) or
-- a reset to 0.

-- +goose Up
-- A constant default: PostgreSQL (11 and later) stores it in the catalogue
-- and rewrites no row.
ALTER TABLE totp_factors ADD COLUMN failed_codes INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE totp_factors DROP COLUMN failed_codes;
