-- Issue 12: an OpenID Connect provider signs in only the account its identity (issuer, subject)
-- was linked to by that account's holder, never an account that merely has the same e-mail (P8).

-- A linked identity. The subject is kept only as a keyed HMAC (under EMAIL_INDEX_KEY, with its
-- own prefix), like the e-mail blind index: the directory can find the link without holding the
-- provider's identifier of the person, so a copy of the database does not join Telemoat users
-- to their accounts elsewhere. One account per identity; one identity per account and issuer,
-- so unlinking names the provider, not an identifier the user never sees.
CREATE TABLE oidc_identities (
  issuer text NOT NULL,
  subject_index bytea NOT NULL CHECK (length(subject_index) = 32),
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  linked_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (issuer, subject_index),
  UNIQUE (user_id, issuer)
);

-- Set when the attempt links the provider to this signed-in user instead of signing in.
ALTER TABLE oidc_logins ADD COLUMN link_user_id uuid REFERENCES users (id) ON DELETE CASCADE;

-- The API links, finds and unlinks; a link is never rewritten, only removed and made again.
-- The jobs need nothing: links go with their account (ON DELETE CASCADE).
GRANT SELECT, INSERT, DELETE ON oidc_identities TO telemoat_api;
