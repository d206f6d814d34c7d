import { useState } from 'preact/hooks';
import { type Answer, api, type Body, type Organisation, type Role } from '../../api';
import { formatDateTime } from '../../format';
import { ErrorNote, NameAndEmail, useSubmit } from '../../ui';
import { invitableRoles, roleNames } from './roles';

export function InviteSection({
  org,
  onInvited,
}: {
  org: Organisation;
  onInvited: (text: string) => void;
}) {
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('member');
  const { busy, error, onSubmit } = useSubmit();
  const allowed = invitableRoles(org.role);
  return (
    <section class="panel" aria-labelledby="invite-title">
      <h2 id="invite-title">Invite someone</h2>
      <p class="muted">
        They get an e-mail with a link that works once. Invitations expire; send a new one if it
        did.
      </p>
      <form
        class="inline-form"
        onSubmit={onSubmit(async () => {
          const r = await api<Answer<'/orgs/{orgId}/invitations', 'post'>>(
            `/orgs/${org.id}/invitations`,
            {
              method: 'POST',
              body: { name, email, role } satisfies Body<'/orgs/{orgId}/invitations', 'post'>,
            },
          );
          onInvited(
            `Invitation sent to ${email}; it expires ${formatDateTime(r.invitation.expiresAt)}.`,
          );
          setName('');
          setEmail('');
        })}
      >
        <NameAndEmail name={name} email={email} onName={setName} onEmail={setEmail} />
        <div class="field">
          <label for="invite-role">Role</label>
          <select
            id="invite-role"
            value={role}
            onChange={(e) => setRole(e.currentTarget.value as Role)}
          >
            {allowed.map((r) => (
              <option key={r} value={r}>
                {roleNames[r]}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" class="primary" disabled={busy}>
          Send invitation
        </button>
      </form>
      <ErrorNote error={error} />
    </section>
  );
}
