-- Issue 12: an organisation's owners and admins list and revoke its pending invitations, and an
-- invitation is accepted only while its inviter may still make it (P6).

-- The name an invitation has in the API. The token's hash never leaves the database: it is what
-- a link is checked against.
ALTER TABLE invitations ADD COLUMN id uuid NOT NULL DEFAULT gen_random_uuid();
ALTER TABLE invitations ADD CONSTRAINT invitations_id_key UNIQUE (id);
-- Keyset pages of an organisation's invitations, oldest first; it serves lookups by org_id too.
CREATE INDEX invitations_org_created_idx ON invitations (org_id, created_at, id);
DROP INDEX invitations_org_idx;

-- A null inviter means an operator's invitation (`create-org`), which no member's rights limit.
-- Deleting the inviter's account used to set it to null and so turned a member's invitation into
-- an operator's; now the invitation goes with the account. Invitations from before this migration
-- whose inviter was already deleted cannot be told apart and stay valid until they expire.
ALTER TABLE invitations
  DROP CONSTRAINT invitations_invited_by_fkey,
  ADD CONSTRAINT invitations_invited_by_fkey
    FOREIGN KEY (invited_by) REFERENCES users (id) ON DELETE CASCADE;
