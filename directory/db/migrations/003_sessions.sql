-- Sessions that really end (P9), attack detection (P10), login history (P11) and sign-in
-- through the user's own OpenID Connect provider (P8). Runs after 002; refers to users (id)
-- only. No e-mail address is stored here in plaintext: failed sign-ins are tagged with a
-- keyed hash of the address instead. What a user's sessions and sign-ins reveal about them
-- (browser family, network) is sealed with the user's own data key (P12), like their other
-- personal fields; the ciphertext's associated data names its table, column and row.

-- One row per sign-in. A session is also the family of its refresh tokens: reuse of a used
-- refresh token revokes the session, and with it every token of the family.
CREATE TABLE sessions (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  method text NOT NULL CHECK (method IN ('password', 'oidc')),
  -- A coarse browser family such as 'Firefox on Linux' (never the full User-Agent string),
  -- sealed with the user's data key; null only if the user had no data key.
  user_agent_ciphertext bytea,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz NOT NULL DEFAULT now(),
  -- Absolute end, whatever the refreshes.
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz,
  revoked_reason text CHECK (revoked_reason IN ('logout', 'logout-all', 'user', 'reuse'))
);
CREATE INDEX sessions_user_idx ON sessions (user_id) WHERE revoked_at IS NULL;
CREATE INDEX sessions_expiry_idx ON sessions (expires_at);

-- Refresh tokens are random 256-bit values; only their SHA-256 is stored.
CREATE TABLE refresh_tokens (
  token_hash bytea PRIMARY KEY CHECK (length(token_hash) = 32),
  session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  -- Set when the token is exchanged; a second exchange is reuse.
  used_at timestamptz
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_expiry_idx ON refresh_tokens (expires_at);

-- Connection data kept temporarily for security analysis (P10), readable through the API by
-- the platform's security role only, deleted after SECURITY_EVENTS_RETENTION_DAYS.
CREATE TABLE security_events (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  type text NOT NULL CHECK (
    type IN (
      'signin_failed',
      'signin_throttled',
      'signin_succeeded',
      'refresh_token_reused',
      'oidc_failed'
    )
  ),
  -- HMAC-SHA-256 of the normalised e-mail address the attempt named (whether or not such an
  -- account exists); never the address itself.
  account_key bytea CHECK (length(account_key) = 32),
  -- Set only for events about a known account (token reuse); cleared when it is deleted.
  user_id uuid REFERENCES users (id) ON DELETE SET NULL,
  ip inet,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX security_events_account_idx ON security_events (account_key, created_at)
  WHERE account_key IS NOT NULL;
CREATE INDEX security_events_ip_idx ON security_events USING gist (ip inet_ops);
CREATE INDEX security_events_created_idx ON security_events (created_at);

-- The user's own sign-in history (P11): time, method, and, sealed with the user's data key,
-- the browser family and the address truncated to its network (/24 for IPv4, /48 for IPv6).
CREATE TABLE sign_ins (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  method text NOT NULL CHECK (method IN ('password', 'oidc')),
  user_agent_ciphertext bytea,
  network_ciphertext bytea,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sign_ins_user_idx ON sign_ins (user_id, created_at);
CREATE INDEX sign_ins_created_idx ON sign_ins (created_at);

-- Platform-level roles, outside any organisation. Granted by an operator with the admin role;
-- the API may only read them.
CREATE TABLE platform_roles (
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  role text NOT NULL CHECK (role IN ('security')),
  granted_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, role)
);

-- An OpenID Connect sign-in in progress: the browser holds the state, the server the nonce
-- and the PKCE verifier. Each row is used once and lives ten minutes.
CREATE TABLE oidc_logins (
  state_hash bytea PRIMARY KEY CHECK (length(state_hash) = 32),
  provider text NOT NULL,
  nonce text NOT NULL,
  code_verifier text NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX oidc_logins_expiry_idx ON oidc_logins (expires_at);

GRANT SELECT, INSERT, UPDATE ON sessions, refresh_tokens TO telemoat_api;
-- Security events are append-only for the API: a compromised API cannot erase its traces.
GRANT SELECT, INSERT ON security_events, sign_ins TO telemoat_api;
GRANT SELECT ON platform_roles TO telemoat_api;
GRANT SELECT, INSERT, DELETE ON oidc_logins TO telemoat_api;

-- The retention job sees only the timestamps it selects on, and may delete.
GRANT SELECT (created_at), DELETE ON security_events, sign_ins TO telemoat_jobs;
GRANT SELECT (expires_at, revoked_at), DELETE ON sessions TO telemoat_jobs;
GRANT SELECT (expires_at), DELETE ON refresh_tokens, oidc_logins TO telemoat_jobs;
