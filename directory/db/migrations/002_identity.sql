-- Identity: personal values are encrypted by the application before they reach the database
-- (P1, P12), e-mail addresses are found through a keyed blind index, sign-up needs a verified
-- e-mail (P5), organisations invite their users (P6, P7), the registration record has a limited
-- lifetime (P4), and changes made on a user's behalf are kept in an audit history (P11, P16).
--
-- The plaintext columns are dropped, and what they held cannot be encrypted here (the keys are
-- never in the database): existing directory rows are removed. There is no production data yet;
-- `npm start` seeds its demo again on the next start.
TRUNCATE organisations, users CASCADE;

-- One random 256-bit key per person and per organisation, stored only wrapped (AES-256-GCM) by
-- a master key that lives in config. Deleting a row (crypto-shredding) makes every value sealed
-- with that key unreadable, here and in later backups.
CREATE TABLE data_keys (
  id uuid PRIMARY KEY,
  owner text NOT NULL CHECK (owner IN ('user', 'organisation')),
  -- version (1) | IV (12) | tag (16) | 32-byte key
  wrapped_key bytea NOT NULL CHECK (octet_length(wrapped_key) = 61),
  master_key_id text NOT NULL CHECK (master_key_id ~ '^[A-Za-z0-9_-]{1,32}$'),
  created_at timestamptz NOT NULL DEFAULT now(),
  rotated_at timestamptz
);
CREATE INDEX data_keys_master_key_idx ON data_keys (master_key_id);

-- Ids are chosen by the application: each ciphertext's associated data names its row.
ALTER TABLE users ALTER COLUMN id DROP DEFAULT;
ALTER TABLE users
  DROP COLUMN email,
  DROP COLUMN display_name,
  ADD COLUMN email_ciphertext bytea NOT NULL,
  -- HMAC-SHA-256 (key EMAIL_INDEX_KEY) of the normalised address: lookup and uniqueness.
  ADD COLUMN email_index bytea NOT NULL UNIQUE CHECK (octet_length(email_index) = 32),
  ADD COLUMN name_ciphertext bytea NOT NULL,
  ADD COLUMN phone_ciphertext bytea,
  ADD COLUMN address_ciphertext bytea,
  -- Null once the key is shredded: the account's values can no longer be read.
  ADD COLUMN data_key_id uuid REFERENCES data_keys (id) ON DELETE SET NULL,
  -- How the account came to be: an invited account nobody accepts is deleted (P7).
  ADD COLUMN origin text NOT NULL DEFAULT 'admin' CHECK (origin IN ('signup', 'invitation', 'admin')),
  -- The privacy terms the user accepted, and when.
  ADD COLUMN terms_version text CHECK (length(terms_version) BETWEEN 1 AND 64),
  ADD COLUMN terms_accepted_at timestamptz,
  -- P14: leave titles and names out of the e-mails this user receives.
  ADD COLUMN mail_omit_names boolean NOT NULL DEFAULT false;
CREATE INDEX users_data_key_idx ON users (data_key_id);

ALTER TABLE organisations ALTER COLUMN id DROP DEFAULT;
ALTER TABLE organisations
  DROP COLUMN name,
  -- Sealed with the organisation's own data key; shown to its members.
  ADD COLUMN name_ciphertext bytea NOT NULL,
  ADD COLUMN address_ciphertext bytea,
  ADD COLUMN data_key_id uuid REFERENCES data_keys (id) ON DELETE SET NULL;
CREATE INDEX organisations_data_key_idx ON organisations (data_key_id);

-- P4: when, from where and with which browser an account was registered, for support during
-- registration. IP and User-Agent are sealed with the user's data key; the row is deleted by
-- the jobs component once expires_at (REGISTRATION_RECORD_DAYS after sign-up) has passed.
CREATE TABLE registrations (
  user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  registered_at timestamptz NOT NULL DEFAULT now(),
  ip_ciphertext bytea,
  user_agent_ciphertext bytea,
  expires_at timestamptz NOT NULL
);
CREATE INDEX registrations_expiry_idx ON registrations (expires_at);

-- Links that prove control of an address: sign-up (P5) and e-mail change (P16). Only the
-- SHA-256 of the random token is stored; a row is deleted when used, so each link works once.
CREATE TABLE email_verifications (
  token_hash bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  purpose text NOT NULL CHECK (purpose IN ('signup', 'email_change')),
  -- The address an e-mail change moves to, sealed with the user's data key, and its index.
  new_email_ciphertext bytea,
  new_email_index bytea CHECK (octet_length(new_email_index) = 32),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  CHECK ((purpose = 'email_change') = (new_email_ciphertext IS NOT NULL AND new_email_index IS NOT NULL))
);
CREATE INDEX email_verifications_user_idx ON email_verifications (user_id);
CREATE INDEX email_verifications_expiry_idx ON email_verifications (expires_at);

-- P6, P7: an organisation's invitation of one account, accepted once through its link before
-- expires_at (INVITATION_TTL_DAYS after it was sent). Only the token's SHA-256 is stored.
CREATE TABLE invitations (
  token_hash bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),
  org_id uuid NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  role text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
  invited_by uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);
CREATE INDEX invitations_user_idx ON invitations (user_id);
CREATE INDEX invitations_org_idx ON invitations (org_id);
CREATE INDEX invitations_invited_by_idx ON invitations (invited_by);
CREATE INDEX invitations_expiry_idx ON invitations (expires_at);

-- P11, P16: changes made in the service on a user's behalf. `details` holds field names, ids
-- and roles, never a personal value in plaintext. Rows about a user go with the user.
CREATE TABLE audit_log (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  actor_user_id uuid REFERENCES users (id) ON DELETE SET NULL,
  action text NOT NULL CHECK (action ~ '^[a-z][a-z_]*(\.[a-z][a-z_]*)*$' AND length(action) <= 64),
  at timestamptz NOT NULL DEFAULT clock_timestamp(),
  details jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(details) = 'object')
);
CREATE INDEX audit_log_user_idx ON audit_log (user_id, at);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_user_id);

-- The API: reads and writes identities; re-wraps data keys (`telemoat rotate-keys` connects as
-- this role) but never deletes them; appends to the audit history and cannot rewrite it; writes
-- registration records it has no reason to read back.
GRANT SELECT, INSERT, UPDATE ON data_keys TO telemoat_api;
GRANT INSERT ON registrations TO telemoat_api;
GRANT SELECT, INSERT, DELETE ON email_verifications, invitations TO telemoat_api;
GRANT SELECT, INSERT ON audit_log TO telemoat_api;

-- The jobs: delete what has expired, seeing only ids and timestamps. They cannot read a
-- password hash, a ciphertext or a wrapped key (P21).
REVOKE SELECT ON users FROM telemoat_jobs;
GRANT SELECT (id, origin, email_verified_at, created_at, data_key_id) ON users TO telemoat_jobs;
GRANT SELECT (id), DELETE ON data_keys TO telemoat_jobs;
GRANT SELECT (user_id, expires_at), DELETE ON registrations, email_verifications, invitations TO telemoat_jobs;
