import { useState } from 'preact/hooks';
import {
  type Answer,
  api,
  type Body,
  type Me,
  type Member,
  type Organisation,
  type Role,
} from '../../api';
import { formatDateTime } from '../../format';
import { Confirm, ErrorNote, RowButton, Spinner, Sr, useLoad } from '../../ui';
import { roleNames, roles } from './roles';

const memberName = (m: Member) => m.name ?? m.email ?? 'this member';

export function MembersSection(props: {
  org: Organisation;
  me: Me;
  manages: boolean;
  onNotice: (text: string | null) => void;
  onError: (error: unknown) => void;
}) {
  const { org, me, manages, onNotice, onError } = props;
  const [removing, setRemoving] = useState<Member | null>(null);
  const members = useLoad(
    (signal) =>
      api<Answer<'/orgs/{orgId}/members', 'get'>>(`/orgs/${org.id}/members?limit=500`, {
        signal,
      }),
    [org.id],
  );
  return (
    <>
      <section class="panel" aria-labelledby="members-title">
        <h2 id="members-title">Members</h2>
        {members.loading && !members.data && <Spinner label="Loading members…" />}
        <ErrorNote error={members.error} />
        {members.data && (
          <div class="table-wrap" tabIndex={0}>
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  {manages && <th scope="col">E-mail</th>}
                  <th scope="col">Role</th>
                  <th scope="col">Joined</th>
                  {manages && (
                    <th scope="col">
                      <Sr>Actions</Sr>
                    </th>
                  )}
                </tr>
              </thead>
              <tbody>
                {members.data.members.map((m) => {
                  const self = m.userId === me.id;
                  const name = memberName(m);
                  return (
                    <tr key={m.userId}>
                      <td>
                        {m.name ?? <span class="muted">(invited)</span>}
                        {self && <span class="badge">you</span>}
                      </td>
                      {manages && <td class="break">{m.email ?? '—'}</td>}
                      <td>
                        {manages && !self ? (
                          <>
                            <label class="sr-only" for={`role-${m.userId}`}>
                              Role of {name}
                            </label>
                            <select
                              id={`role-${m.userId}`}
                              value={m.role}
                              onChange={(e) => {
                                const role = e.currentTarget.value as Role;
                                onError(null);
                                onNotice(null);
                                api(`/orgs/${org.id}/members/${m.userId}`, {
                                  method: 'PATCH',
                                  body: { role } satisfies Body<
                                    '/orgs/{orgId}/members/{userId}',
                                    'patch'
                                  >,
                                }).then(
                                  () => {
                                    onNotice(`${name} is now ${roleNames[role].toLowerCase()}.`);
                                    members.reload();
                                  },
                                  (err: unknown) => {
                                    onError(err);
                                    members.reload();
                                  },
                                );
                              }}
                            >
                              {roles.map((r) => (
                                <option key={r} value={r}>
                                  {roleNames[r]}
                                </option>
                              ))}
                            </select>
                          </>
                        ) : (
                          roleNames[m.role]
                        )}
                      </td>
                      <td>{formatDateTime(m.joinedAt)}</td>
                      {manages && (
                        <td class="row-actions">
                          {!self && (
                            <RowButton
                              label="Remove"
                              sr={name}
                              danger
                              onClick={() => setRemoving(m)}
                            />
                          )}
                        </td>
                      )}
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </section>

      {removing && (
        <Confirm
          title={`Remove ${memberName(removing)}?`}
          body={<p>They lose access to this organisation at once. Their account stays.</p>}
          action="Remove member"
          danger
          onClose={() => setRemoving(null)}
          onConfirm={async () => {
            await api(`/orgs/${org.id}/members/${removing.userId}`, { method: 'DELETE' });
            onNotice(`${memberName(removing)} was removed.`);
            members.mutate((d) => ({
              ...d,
              members: d.members.filter((m) => m.userId !== removing.userId),
            }));
            members.reload();
          }}
        />
      )}
    </>
  );
}
