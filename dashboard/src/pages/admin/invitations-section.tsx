import { useState } from 'preact/hooks';
import { type Answer, api, type Organisation } from '../../api';
import { formatDateTime } from '../../format';
import { Confirm, Empty, ErrorNote, RowButton, Spinner, Sr, useLoad } from '../../ui';
import { invitableRoles, roleNames } from './roles';

type Invitations = Answer<'/orgs/{orgId}/invitations', 'get'>;
type Invitation = Invitations['invitations'][number];

const addressOf = (i: Invitation) => i.email ?? 'a deleted account';

const inviterOf = (i: Invitation) => (i.inviter ? (i.inviter.name ?? '—') : 'An operator');

/**
 * Pending invitations, for owners and admins only (those who may invite): who was invited, by
 * whom, until when; and revoking them.
 */
export function InvitationsSection(props: {
  org: Organisation;
  /** How many invitations the page has sent: each one loads the list again. */
  sent: number;
  onNotice: (text: string | null) => void;
}) {
  const { org, sent, onNotice } = props;
  const [revoking, setRevoking] = useState<Invitation | null>(null);
  const invitations = useLoad(
    (signal) => api<Invitations>(`/orgs/${org.id}/invitations?limit=500`, { signal }),
    [org.id, sent],
  );
  // Whoever may send an invitation may revoke it: only owners revoke owners' invitations.
  const revocable = new Set(invitableRoles(org.role));
  return (
    <>
      <section class="panel" aria-labelledby="invitations-title">
        <h2 id="invitations-title">Pending invitations</h2>
        {invitations.loading && !invitations.data && <Spinner label="Loading invitations…" />}
        <ErrorNote error={invitations.error} />
        {invitations.data && invitations.data.invitations.length === 0 && (
          <Empty title="No pending invitations." />
        )}
        {invitations.data && invitations.data.invitations.length > 0 && (
          <div class="table-wrap" tabIndex={0}>
            <table>
              <thead>
                <tr>
                  <th scope="col">E-mail</th>
                  <th scope="col">Role</th>
                  <th scope="col">Invited by</th>
                  <th scope="col">Sent</th>
                  <th scope="col">Expires</th>
                  <th scope="col">
                    <Sr>Actions</Sr>
                  </th>
                </tr>
              </thead>
              <tbody>
                {invitations.data.invitations.map((i) => (
                  <tr key={i.id}>
                    <td class="break">{addressOf(i)}</td>
                    <td>{roleNames[i.role]}</td>
                    <td>{inviterOf(i)}</td>
                    <td>{formatDateTime(i.createdAt)}</td>
                    <td>{formatDateTime(i.expiresAt)}</td>
                    <td class="row-actions">
                      {revocable.has(i.role) && (
                        <RowButton
                          label="Revoke"
                          sr={`the invitation of ${addressOf(i)}`}
                          danger
                          onClick={() => setRevoking(i)}
                        />
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      {revoking && (
        <Confirm
          title={`Revoke the invitation of ${addressOf(revoking)}?`}
          body={<p>The link in their e-mail stops working at once. You can invite them again.</p>}
          action="Revoke invitation"
          danger
          onClose={() => setRevoking(null)}
          onConfirm={async () => {
            await api(`/orgs/${org.id}/invitations/${revoking.id}`, { method: 'DELETE' });
            onNotice(`The invitation of ${addressOf(revoking)} was revoked.`);
            invitations.mutate((d) => ({
              ...d,
              invitations: d.invitations.filter((i) => i.id !== revoking.id),
            }));
            invitations.reload();
          }}
        />
      )}
    </>
  );
}
