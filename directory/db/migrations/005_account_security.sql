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

-- Password reset by e-mailed link: single use, expiring, only the token's SHA-256 stored.
CREATE TABLE password_resets (
  token_hash bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);
CREATE INDEX password_resets_user_idx ON password_resets (user_id);
CREATE INDEX password_resets_expiry_idx ON password_resets (expires_at);
GRANT SELECT, INSERT, DELETE ON password_resets TO telemoat_api;
GRANT SELECT (expires_at), DELETE ON password_resets TO telemoat_jobs;

-- A changed or reset password ends the account's other sessions.
ALTER TABLE sessions DROP CONSTRAINT sessions_revoked_reason_check;
ALTER TABLE sessions ADD CONSTRAINT sessions_revoked_reason_check
  CHECK (revoked_reason IN ('logout', 'logout-all', 'user', 'reuse', 'password'));
