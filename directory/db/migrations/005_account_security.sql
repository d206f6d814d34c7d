-- Issue 12: sign-up links and password resets that nobody can flood a mailbox with, and the
-- jobs role without the memberships it never needed.

-- P5, P10: each e-mail the platform sends to an address on request of whoever types it (sign-up
-- links, "you already have an account", password resets), named by the address's blind index,
-- never the address. The API counts the last hour's rows before sending another; the jobs role
-- deletes them after a day.
CREATE TABLE mail_quota (
  address_index bytea NOT NULL CHECK (octet_length(address_index) = 32),
  purpose text NOT NULL CHECK (purpose IN ('signup', 'password_reset')),
  sent_at timestamptz NOT NULL
);
CREATE INDEX mail_quota_address_idx ON mail_quota (address_index, purpose, sent_at);
CREATE INDEX mail_quota_sent_idx ON mail_quota (sent_at);
GRANT SELECT, INSERT ON mail_quota TO telemoat_api;
GRANT SELECT (sent_at), DELETE ON mail_quota TO telemoat_jobs;

-- Deleting an unverified account cascades to its memberships as the table owner, so the jobs
-- role needs no rights on them (P21).
REVOKE ALL ON memberships FROM telemoat_jobs;
