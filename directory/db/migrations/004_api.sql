-- The API's management routes: devices renamed, disabled and deleted by organisation admins, the
-- organisation's own units and labels for its metrics, and the deletion of accounts an
-- organisation created by invitation (P6).

-- When a device was last changed (renamed, disabled or enabled, secret rotated).
ALTER TABLE devices ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
-- Keyset pagination of an organisation's devices by name.
CREATE INDEX devices_org_name_idx ON devices (org_id, display_name, id);

-- The unit and label an organisation gives one of its metric names. Not personal data: the
-- organisation's own description of what its devices measure.
CREATE TABLE metric_units (
  org_id uuid NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
  metric text NOT NULL CHECK (metric ~ '^[a-z][a-z0-9_]{0,63}$'),
  unit text NOT NULL CHECK (length(unit) <= 16),
  label text NOT NULL CHECK (length(label) BETWEEN 1 AND 64),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, metric)
);
GRANT SELECT, INSERT, UPDATE, DELETE ON metric_units TO telemoat_api;

-- P6: which organisation's invitation created an account. Only that organisation's admins may
-- delete the account, and only while it belongs to no other organisation.
ALTER TABLE users
  ADD COLUMN created_by_org_id uuid REFERENCES organisations (id) ON DELETE SET NULL;
CREATE INDEX users_created_by_org_idx ON users (created_by_org_id);
UPDATE users u SET created_by_org_id = (a.details ->> 'orgId')::uuid
FROM audit_log a
WHERE a.user_id = u.id AND a.action = 'account.created' AND u.origin = 'invitation'
  AND a.details ->> 'origin' = 'invitation'
  AND EXISTS (SELECT 1 FROM organisations o WHERE o.id::text = a.details ->> 'orgId');

-- Deletes an account the organisation `org` created by invitation, with everything attached
-- to it (memberships, sessions, sign-ins, audit rows and links cascade), and its data key, which
-- crypto-shreds any copy of its sealed values in backups (P12, P17). The API may not delete data
-- keys itself; this function is its only way to, and it checks the rules again in the database:
-- created by `org`, no membership elsewhere, no pending invitation from another organisation and
-- no platform role. Returns false, changing nothing, when a rule forbids it.
CREATE FUNCTION erase_invited_account(target uuid, org uuid) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  key_id uuid;
BEGIN
  DELETE FROM users u
  WHERE u.id = target
    AND u.origin = 'invitation'
    AND u.created_by_org_id = org
    AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = target AND m.org_id <> org)
    AND NOT EXISTS (SELECT 1 FROM invitations i WHERE i.user_id = target AND i.org_id <> org)
    AND NOT EXISTS (SELECT 1 FROM platform_roles p WHERE p.user_id = target)
  RETURNING u.data_key_id INTO key_id;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  DELETE FROM data_keys WHERE id = key_id;
  RETURN true;
END;
$$;
REVOKE ALL ON FUNCTION erase_invited_account(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION erase_invited_account(uuid, uuid) TO telemoat_api;
