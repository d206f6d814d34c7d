-- The directory: organisations, people, memberships and devices. It holds no readings (P2).
-- Component roles (telemoat_api, telemoat_broker, telemoat_jobs) are created by the
-- provisioning step before migrations run; grants here give each only what it needs (P21).

CREATE TABLE organisations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  region text NOT NULL DEFAULT 'eu' CHECK (region ~ '^[a-z]{2,16}$'),
  -- Random pseudonym that tags this organisation's readings in InfluxDB.
  tenant_key text NOT NULL UNIQUE CHECK (tenant_key ~ '^[0-9a-f]{32}$'),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email text NOT NULL,
  display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
  password_hash text,
  email_verified_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE memberships (
  org_id uuid NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  role text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id);

CREATE TABLE devices (
  id text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$'),
  org_id uuid NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
  display_name text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
  -- Random pseudonym that tags this device's readings in InfluxDB.
  pseudonym text NOT NULL UNIQUE CHECK (pseudonym ~ '^[0-9a-f]{32}$'),
  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX devices_org_idx ON devices (org_id);

-- Kept apart from devices so the broker's grant can be exactly "credentials".
CREATE TABLE device_credentials (
  device_id text PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
  secret_hash text NOT NULL,
  rotated_at timestamptz NOT NULL DEFAULT now()
);

-- The broker's whole view of the directory: what it needs to authenticate a device and tag
-- its readings. A view runs with its owner's rights, so the broker needs no table grants.
CREATE SCHEMA broker;
CREATE VIEW broker.device_credentials AS
  SELECT d.id AS device_id, c.secret_hash, d.pseudonym AS device_key, o.tenant_key, d.status
  FROM devices d
  JOIN device_credentials c ON c.device_id = d.id
  JOIN organisations o ON o.id = d.org_id;

GRANT USAGE ON SCHEMA broker TO telemoat_broker;
GRANT SELECT ON broker.device_credentials TO telemoat_broker;

GRANT SELECT, INSERT, UPDATE, DELETE ON organisations, users, memberships, devices TO telemoat_api;
GRANT SELECT (device_id), INSERT, UPDATE, DELETE ON device_credentials TO telemoat_api;

-- Maintenance jobs will delete expired records; they never need device secrets.
GRANT SELECT, DELETE ON users, memberships TO telemoat_jobs;
