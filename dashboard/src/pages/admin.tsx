import { useState } from 'preact/hooks';
import {
  api,
  type DeviceSummary,
  type Me,
  type Member,
  type MetricEntry,
  type Role,
  type SecretAnswer,
} from '../api';
import { formatDateTime } from '../format';
import { Confirm, copyText, Empty, ErrorNote, Field, Modal, Spinner, Sr, useLoad } from '../ui';

const roles: Role[] = ['owner', 'admin', 'member', 'viewer'];
const roleNames: Record<Role, string> = {
  owner: 'Owner',
  admin: 'Admin',
  member: 'Member',
  viewer: 'Viewer',
};

interface Org {
  id: string;
  name: string;
  role: Role;
}

type Pending =
  | { kind: 'remove-member'; member: Member }
  | { kind: 'delete-device'; device: DeviceSummary }
  | { kind: 'disable-device'; device: DeviceSummary }
  | { kind: 'rotate-device'; device: DeviceSummary };

export function AdminPage({ org, me }: { org: Org; me: Me }) {
  const manages = org.role === 'owner' || org.role === 'admin';
  const [pending, setPending] = useState<Pending | null>(null);
  const [secret, setSecret] = useState<SecretAnswer | null>(null);
  const members = useLoad(
    (signal) => api<{ members: Member[] }>(`/orgs/${org.id}/members?limit=500`, { signal }),
    [org.id],
  );
  const devices = useLoad(
    (signal) => api<{ devices: DeviceSummary[] }>(`/orgs/${org.id}/devices?limit=500`, { signal }),
    [org.id],
  );
  const [notice, setNotice] = useState<string | null>(null);
  const [rowError, setRowError] = useState<unknown>(null);

  const memberName = (m: Member) => m.name ?? m.email ?? 'this member';

  return (
    <>
      <div class="page-head">
        <div>
          <p class="eyebrow">{org.name}</p>
          <h1>Organisation admin</h1>
        </div>
      </div>
      {!manages && (
        <p class="note info">
          You are a {roleNames[org.role].toLowerCase()} here: you can see the members, and owners
          and admins manage the organisation.
        </p>
      )}
      {notice && (
        <p class="note success" role="status">
          {notice}
        </p>
      )}
      <ErrorNote error={rowError} />

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
                                setRowError(null);
                                setNotice(null);
                                api(`/orgs/${org.id}/members/${m.userId}`, {
                                  method: 'PATCH',
                                  body: { role },
                                }).then(
                                  () => {
                                    setNotice(`${name} is now ${roleNames[role].toLowerCase()}.`);
                                    members.reload();
                                  },
                                  (err: unknown) => {
                                    setRowError(err);
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
                            <button
                              type="button"
                              class="ghost danger-text"
                              onClick={() => setPending({ kind: 'remove-member', member: m })}
                            >
                              Remove<Sr> {name}</Sr>
                            </button>
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

      {manages && (
        <InviteForm
          org={org}
          onInvited={(text) => {
            setNotice(text);
            members.reload();
          }}
        />
      )}

      <section class="panel" aria-labelledby="devices-title">
        <h2 id="devices-title">Devices</h2>
        {manages && (
          <AddDevice
            orgId={org.id}
            onAdded={(answer) => {
              setSecret(answer);
              devices.reload();
            }}
          />
        )}
        {devices.loading && !devices.data && <Spinner label="Loading devices…" />}
        <ErrorNote error={devices.error} />
        {devices.data && devices.data.devices.length === 0 && (
          <Empty title="No devices yet.">Add one above; you get its secret once.</Empty>
        )}
        {devices.data && devices.data.devices.length > 0 && (
          <ul class="rows">
            {devices.data.devices.map((d) => (
              <li key={d.id} class="row">
                <div class="row-main">
                  <a href={`/orgs/${org.id}/devices/${encodeURIComponent(d.id)}`}>{d.name}</a>
                  <code class="muted small">{d.id}</code>
                  {d.status === 'disabled' && <span class="pill muted-pill">Disabled</span>}
                </div>
                {manages && (
                  <div class="row-actions">
                    <button
                      type="button"
                      class="ghost"
                      onClick={() => setPending({ kind: 'rotate-device', device: d })}
                    >
                      Rotate secret<Sr> of {d.name}</Sr>
                    </button>
                    {d.status === 'active' ? (
                      <button
                        type="button"
                        class="ghost"
                        onClick={() => setPending({ kind: 'disable-device', device: d })}
                      >
                        Disable<Sr> {d.name}</Sr>
                      </button>
                    ) : (
                      <button
                        type="button"
                        class="ghost"
                        onClick={() => {
                          setRowError(null);
                          api(`/orgs/${org.id}/devices/${encodeURIComponent(d.id)}/enable`, {
                            method: 'POST',
                          }).then(() => {
                            setNotice(`${d.name} is enabled.`);
                            devices.reload();
                          }, setRowError);
                        }}
                      >
                        Enable<Sr> {d.name}</Sr>
                      </button>
                    )}
                    <button
                      type="button"
                      class="ghost danger-text"
                      onClick={() => setPending({ kind: 'delete-device', device: d })}
                    >
                      Delete<Sr> {d.name}</Sr>
                    </button>
                  </div>
                )}
              </li>
            ))}
          </ul>
        )}
      </section>

      {manages && <MetricsSection orgId={org.id} />}

      {pending?.kind === 'remove-member' && (
        <Confirm
          title={`Remove ${memberName(pending.member)}?`}
          body={<p>They lose access to this organisation at once. Their account stays.</p>}
          action="Remove member"
          danger
          onClose={() => setPending(null)}
          onConfirm={async () => {
            await api(`/orgs/${org.id}/members/${pending.member.userId}`, { method: 'DELETE' });
            setNotice(`${memberName(pending.member)} was removed.`);
            members.mutate((d) => ({
              members: d.members.filter((m) => m.userId !== pending.member.userId),
            }));
            members.reload();
          }}
        />
      )}
      {pending?.kind === 'delete-device' && (
        <Confirm
          title={`Delete ${pending.device.name}?`}
          body={
            <p>The device can no longer connect, and its name is deleted. This cannot be undone.</p>
          }
          action="Delete device"
          danger
          onClose={() => setPending(null)}
          onConfirm={async () => {
            await api(`/orgs/${org.id}/devices/${encodeURIComponent(pending.device.id)}`, {
              method: 'DELETE',
            });
            setNotice(`${pending.device.name} was deleted.`);
            devices.mutate((d) => ({
              devices: d.devices.filter((x) => x.id !== pending.device.id),
            }));
            devices.reload();
          }}
        />
      )}
      {pending?.kind === 'disable-device' && (
        <Confirm
          title={`Disable ${pending.device.name}?`}
          body={<p>It is disconnected within seconds and cannot publish until you enable it.</p>}
          action="Disable device"
          danger
          onClose={() => setPending(null)}
          onConfirm={async () => {
            await api(`/orgs/${org.id}/devices/${encodeURIComponent(pending.device.id)}/disable`, {
              method: 'POST',
            });
            setNotice(`${pending.device.name} is disabled.`);
            devices.reload();
          }}
        />
      )}
      {pending?.kind === 'rotate-device' && (
        <Confirm
          title={`Rotate the secret of ${pending.device.name}?`}
          body={
            <p>
              The old secret stops working at once and the device is disconnected until it uses the
              new one.
            </p>
          }
          action="Rotate secret"
          danger
          onClose={() => setPending(null)}
          onConfirm={async () => {
            const answer = await api<SecretAnswer>(
              `/orgs/${org.id}/devices/${encodeURIComponent(pending.device.id)}/rotate-secret`,
              { method: 'POST' },
            );
            setSecret(answer);
          }}
        />
      )}
      {secret && <SecretDialog answer={secret} onClose={() => setSecret(null)} />}
    </>
  );
}

function InviteForm({ org, onInvited }: { org: Org; onInvited: (text: string) => void }) {
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
          api<{ invitation: { expiresAt: string } }>(`/orgs/${org.id}/invitations`, {
            method: 'POST',
            body: { name, email, role },
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

function AddDevice({ orgId, onAdded }: { orgId: string; onAdded: (a: SecretAnswer) => void }) {
  const [name, setName] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  return (
    <>
      <form
        class="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          setBusy(true);
          setError(null);
          api<SecretAnswer>(`/orgs/${orgId}/devices`, { method: 'POST', body: { name } }).then(
            (answer) => {
              setName('');
              setBusy(false);
              onAdded(answer);
            },
            (err: unknown) => {
              setError(err);
              setBusy(false);
            },
          );
        }}
      >
        <Field label="Device name" autocomplete="off" required value={name} onInput={setName} />
        <button type="submit" class="primary" disabled={busy}>
          Add device
        </button>
      </form>
      <ErrorNote error={error} />
    </>
  );
}

function SecretDialog({ answer, onClose }: { answer: SecretAnswer; onClose: () => void }) {
  const [copied, setCopied] = useState<string | null>(null);
  const copy = (what: string, text: string) =>
    copyText(text).then(
      () => setCopied(`${what} copied.`),
      () => setCopied(`Could not copy; select the text and copy it yourself.`),
    );
  return (
    <Modal title={`Device secret for ${answer.device.name}`} onClose={onClose} wide>
      <p class="note warn">
        This is the only time the secret is shown. Store it on the device now; Telemoat keeps only a
        hash of it.
      </p>
      <dl class="secret">
        <dt>Device id</dt>
        <dd>
          <code>{answer.device.id}</code>
        </dd>
        <dt>Secret</dt>
        <dd>
          <code class="break">{answer.secret}</code>
        </dd>
      </dl>
      <p class="muted">Publish a test reading:</p>
      <pre class="code">
        <code>{answer.mosquittoPub}</code>
      </pre>
      <p class="copied" role="status">
        {copied}
      </p>
      <div class="actions">
        <button type="button" class="secondary" onClick={() => void copy('Secret', answer.secret)}>
          Copy secret
        </button>
        <button
          type="button"
          class="secondary"
          onClick={() => void copy('Command', answer.mosquittoPub)}
        >
          Copy command
        </button>
        <button type="button" class="primary" onClick={onClose}>
          Done
        </button>
      </div>
    </Modal>
  );
}

/** The metric catalogue: the unit and label every member sees next to a metric's values. */
export function MetricsSection({ orgId }: { orgId: string }) {
  const catalogue = useLoad(
    (signal) =>
      api<{ metrics: MetricEntry[]; units: string[] }>(`/orgs/${orgId}/metrics`, { signal }),
    [orgId],
  );
  return (
    <section class="panel" aria-labelledby="metrics-title">
      <h2 id="metrics-title">Metrics</h2>
      <p class="muted">Units and labels shown with every value of a metric.</p>
      {catalogue.loading && !catalogue.data && <Spinner label="Loading metrics…" />}
      <ErrorNote error={catalogue.error} />
      {catalogue.data && catalogue.data.metrics.length === 0 && (
        <Empty title="No metrics yet.">They appear once a device reports readings.</Empty>
      )}
      {catalogue.data && catalogue.data.metrics.length > 0 && (
        <ul class="rows">
          {catalogue.data.metrics.map((m) => (
            <MetricRow key={m.metric} orgId={orgId} entry={m} units={catalogue.data!.units} />
          ))}
        </ul>
      )}
    </section>
  );
}

function MetricRow(props: { orgId: string; entry: MetricEntry; units: string[] }) {
  const { entry } = props;
  const [unit, setUnit] = useState(entry.unit ?? '');
  const [label, setLabel] = useState(entry.label ?? entry.metric.replace(/_/g, ' '));
  const [state, setState] = useState<{ error?: unknown; saved?: boolean; busy?: boolean }>({});
  const id = `metric-${entry.metric}`;
  return (
    <li class="row">
      <form
        class="metric-form"
        onSubmit={(e) => {
          e.preventDefault();
          setState({ busy: true });
          api(`/orgs/${props.orgId}/metrics/${entry.metric}`, {
            method: 'PUT',
            body: { unit, label },
          }).then(
            () => setState({ saved: true }),
            (error: unknown) => setState({ error }),
          );
        }}
      >
        <code class="metric-id">{entry.metric}</code>
        <div class="field">
          <label for={`${id}-label`}>Label of {entry.metric}</label>
          <input
            id={`${id}-label`}
            type="text"
            required
            maxLength={64}
            value={label}
            onInput={(e) => setLabel(e.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for={`${id}-unit`}>Unit of {entry.metric}</label>
          <select id={`${id}-unit`} value={unit} onChange={(e) => setUnit(e.currentTarget.value)}>
            {props.units.map((u) => (
              <option key={u} value={u}>
                {u === '' ? 'No unit' : u}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" class="secondary" disabled={state.busy}>
          Save<Sr> {entry.metric}</Sr>
        </button>
        <span class="saved" role="status">
          {state.saved ? 'Saved.' : ''}
        </span>
      </form>
      <ErrorNote error={state.error} />
    </li>
  );
}
