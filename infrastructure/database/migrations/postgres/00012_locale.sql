-- The language of an account's mails (issue 24): a BCP 47 tag among the
-- locales the service has mail templates for, chosen by the user
-- (PATCH /users/me) and taken from Accept-Language at registration.
-- Existing accounts and queued mails read English. A constant default
-- adds the column without rewriting the table (PostgreSQL 11 and later).

-- +goose Up
ALTER TABLE users ADD COLUMN locale TEXT NOT NULL DEFAULT 'en';
-- The locale a queued mail is rendered in: the account's when it was
-- queued, so a notice to an address the account just left still speaks
-- the owner's language.
ALTER TABLE mail_outbox ADD COLUMN locale TEXT NOT NULL DEFAULT 'en';

-- +goose Down
ALTER TABLE mail_outbox DROP COLUMN locale;
ALTER TABLE users DROP COLUMN locale;
