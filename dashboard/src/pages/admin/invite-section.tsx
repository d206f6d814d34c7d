import { useState } from 'preact/hooks';
import { type Answer, api, type Body, type Organisation, type Role } from '../../api';
import { formatDateTime } from '../../format';
import { ErrorNote, Field } from '../../ui';
import { roleNames, roles } from './roles';

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
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const allowed = org.role === 'owner' ? roles : roles.filter((r) => r !== 'owner');
  return (
    <section class="panel" aria-labelledby="invite-title">
      <h2 id="invite-title">Invite someone</h2>
      <p class="muted">
        They get an e-mail with a link that works once. Invitations expire; send a new one if it
        did.
      </p>
      <form
        class="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          api<Answer<'/orgs/{orgId}/invitations', 'post'>>(`/orgs/${org.id}/invitations`, {
            method: 'POST',
            body: { name, email, role } satisfies Body<'/orgs/{orgId}/invitations', 'post'>,
          }).then(
            (r) => {
              onInvited(
                `Invitation sent to ${email}; it expires ${formatDateTime(r.invitation.expiresAt)}.`,
              );
              setName('');
              setEmail('');
              setBusy(false);
            },
            (err: unknown) => {
              setError(err);
              setBusy(false);
            },
          );
        }}
      >
        <Field label="Name" autocomplete="off" required value={name} onInput={setName} />
        <Field
          label="E-mail"
          type="email"
          autocomplete="off"
          required
          value={email}
          onInput={setEmail}
        />
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
