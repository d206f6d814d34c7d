import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { type Answer, api, type Body, logoutEverywhere, type Me } from '../api';
import { formatDateTime } from '../format';
import { navigate } from '../router';
import {
  Checkbox,
  Confirm,
  Empty,
  ErrorNote,
  Field,
  NewPasswordField,
  PageHead,
  Spinner,
  useLoad,
  useSubmit,
} from '../ui';

export function SettingsPage({ me, onChanged }: { me: Me; onChanged: () => Promise<void> }) {
  return (
    <>
      <PageHead eyebrow={me.email} title="Settings" />
      <div class="grid-2">
        <Profile me={me} onChanged={onChanged} />
        <div class="stack">
          <EmailChange me={me} />
          <PasswordChange />
          <MailSetting me={me} onChanged={onChanged} />
        </div>
      </div>
      <Sessions />
      <SignInProviders />
      <SignIns />
      <Audit />
    </>
  );
}

function Profile({ me, onChanged }: { me: Me; onChanged: () => Promise<void> }) {
  const [name, setName] = useState(me.name);
  const [phone, setPhone] = useState(me.phone ?? '');
  const [address, setAddress] = useState(me.address ?? '');
  const [saved, setSaved] = useState(false);
  const { busy, error, onSubmit } = useSubmit();
  return (
    <section class="panel" aria-labelledby="profile-title">
      <h2 id="profile-title">Profile</h2>
      <form
        onSubmit={onSubmit(async () => {
          setSaved(false);
          await api('/me', {
            method: 'PATCH',
            body: {
              name,
              phone: phone.trim() || null,
              address: address.trim() || null,
            } satisfies Body<'/me', 'patch'>,
          });
          await onChanged();
          setSaved(true);
        })}
      >
        <Field label="Name" autocomplete="name" required value={name} onInput={setName} />
        <Field
          label="Phone"
          type="tel"
          autocomplete="tel"
          value={phone}
          onInput={setPhone}
          hint="Optional, e.g. +46 70 123 45 67."
        />
        <Field
          label="Address"
          autocomplete="street-address"
          multiline
          value={address}
          onInput={setAddress}
          hint="Optional."
        />
        <ErrorNote error={error} />
        {saved && (
          <p class="note success" role="status">
            Profile saved.
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          Save profile
        </button>
      </form>
    </section>
  );
}

function EmailChange({ me }: { me: Me }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [sent, setSent] = useState<string | null>(null);
  const { busy, error, onSubmit } = useSubmit();
  return (
    <section class="panel" aria-labelledby="email-title">
      <h2 id="email-title">E-mail address</h2>
      <p class="muted">
        Now <strong class="break">{me.email}</strong>. A new address takes effect once you open the
        link we send to it.
      </p>
      <form
        onSubmit={onSubmit(async () => {
          setSent(null);
          await api('/me/email', {
            method: 'POST',
            body: { email, password } satisfies Body<'/me/email', 'post'>,
          });
          setSent(email);
          setEmail('');
          setPassword('');
        })}
      >
        <Field
          label="New e-mail address"
          type="email"
          autocomplete="email"
          required
          value={email}
          onInput={setEmail}
        />
        <Field
          label="Current password"
          type="password"
          autocomplete="current-password"
          required
          value={password}
          onInput={setPassword}
        />
        <ErrorNote error={error} />
        {sent && (
          <p class="note success" role="status">
            We sent a link to {sent}.
          </p>
        )}
        <button type="submit" class="secondary" disabled={busy}>
          Change e-mail
        </button>
      </form>
    </section>
  );
}

/** The current password proves it is the owner, not someone with a borrowed session. */
function PasswordChange() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [changed, setChanged] = useState(false);
  const { busy, error, onSubmit } = useSubmit();
  return (
    <section class="panel" aria-labelledby="password-title">
      <h2 id="password-title">Password</h2>
      <p class="muted">Changing it signs you out everywhere else.</p>
      <form
        onSubmit={onSubmit(async () => {
          setChanged(false);
          await api('/me/password', {
            method: 'POST',
            body: {
              currentPassword: current,
              newPassword: next,
            } satisfies Body<'/me/password', 'post'>,
          });
          setChanged(true);
          setCurrent('');
          setNext('');
        })}
      >
        <Field
          label="Current password"
          type="password"
          autocomplete="current-password"
          required
          value={current}
          onInput={setCurrent}
        />
        <NewPasswordField label="New password" value={next} onInput={setNext} />
        <ErrorNote error={error} />
        {changed && (
          <p class="note success" role="status">
            Your password is changed; your other sessions have ended.
          </p>
        )}
        <button type="submit" class="secondary" disabled={busy}>
          Change password
        </button>
      </form>
    </section>
  );
}

function MailSetting({ me, onChanged }: { me: Me; onChanged: () => Promise<void> }) {
  const { busy, error, run } = useSubmit();
  return (
    <section class="panel" aria-labelledby="mail-title">
      <h2 id="mail-title">E-mails</h2>
      <Checkbox
        label="Leave titles and names out of e-mails"
        checked={me.settings.omitNamesInEmail}
        disabled={busy}
        onChange={(checked) =>
          run(async () => {
            await api('/me', {
              method: 'PATCH',
              body: { settings: { omitNamesInEmail: checked } } satisfies Body<'/me', 'patch'>,
            });
            await onChanged();
          })
        }
      />
      <p class="hint">Saved as soon as you change it.</p>
      <ErrorNote error={error} />
    </section>
  );
}

function Sessions() {
  const sessions = useLoad(
    (signal) => api<Answer<'/me/sessions', 'get'>>('/me/sessions', { signal }),
    [],
  );
  const [confirm, setConfirm] = useState(false);
  const [error, setError] = useState<unknown>(null);
  return (
    <section class="panel" aria-labelledby="sessions-title">
      <div class="panel-head">
        <h2 id="sessions-title">Sessions</h2>
        <button type="button" class="secondary danger-text" onClick={() => setConfirm(true)}>
          Log out everywhere
        </button>
      </div>
      {sessions.loading && !sessions.data && <Spinner label="Loading sessions…" />}
      <ErrorNote error={sessions.error ?? error} />
      {sessions.data && (
        <ul class="rows">
          {sessions.data.sessions.map((s) => (
            <li key={s.id} class="row">
              <div class="row-main">
                <span>
                  {s.userAgent ?? 'Unknown browser'}
                  {s.current && <span class="badge">this browser</span>}
                </span>
                <span class="muted small">
                  Signed in {formatDateTime(s.createdAt)} with{' '}
                  {s.method === 'oidc' ? 'your provider' : 'a password'} · last used{' '}
                  {formatDateTime(s.lastUsedAt)}
                </span>
              </div>
              {!s.current && (
                <div class="row-actions">
                  <button
                    type="button"
                    class="ghost"
                    onClick={() => {
                      setError(null);
                      api(`/me/sessions/${s.id}`, { method: 'DELETE' }).then(
                        sessions.reload,
                        setError,
                      );
                    }}
                  >
                    End session
                  </button>
                </div>
              )}
            </li>
          ))}
        </ul>
      )}
      {confirm && (
        <Confirm
          title="Log out everywhere?"
          body={<p>Every session of your account ends at once, this one included.</p>}
          action="Log out everywhere"
          danger
          onClose={() => setConfirm(false)}
          onConfirm={async () => {
            await logoutEverywhere();
            navigate('/sign-in', { replace: true });
          }}
        />
      )}
    </section>
  );
}

/**
 * The identity providers that may sign the user in (P8). A provider signs in only an account
 * it was linked to here, while signed in; linking leaves for the provider and comes back.
 */
function SignInProviders() {
  const links = useLoad(
    (signal) => api<Answer<'/me/oidc-links', 'get'>>('/me/oidc-links', { signal }),
    [],
  );
  const [error, setError] = useState<unknown>(null);
  const [password, setPassword] = useState('');
  // Most installations configure no provider; then the panel would only be noise.
  if (!links.error && !links.data?.providers.length) return null;
  const path = (id: string) => `/me/oidc-links/${encodeURIComponent(id)}`;
  return (
    <section class="panel" aria-labelledby="providers-title">
      <h2 id="providers-title">Sign-in providers</h2>
      <ErrorNote error={links.error ?? error} />
      <Field
        label="Current password (to link a provider)"
        type="password"
        autocomplete="current-password"
        value={password}
        onInput={setPassword}
      />
      {links.data && (
        <ul class="rows">
          {links.data.providers.map((p) => (
            <li key={p.id} class="row">
              <div class="row-main">
                <span>{p.name}</span>
                <span class="muted small">
                  {p.linkedAt
                    ? `Signs you in · linked ${formatDateTime(p.linkedAt)}`
                    : 'Not linked: it cannot sign you in'}
                </span>
              </div>
              <div class="row-actions">
                <button
                  type="button"
                  class={p.linkedAt ? 'ghost' : 'secondary'}
                  onClick={() => {
                    setError(null);
                    if (p.linkedAt) {
                      api(path(p.id), { method: 'DELETE' }).then(links.reload, setError);
                    } else {
                      api<Answer<'/me/oidc-links/{provider}', 'post'>>(path(p.id), {
                        method: 'POST',
                        body: (password ? { password } : {}) satisfies Body<
                          '/me/oidc-links/{provider}',
                          'post'
                        >,
                      }).then(({ redirectTo }) => window.location.assign(redirectTo), setError);
                    }
                  }}
                >
                  {p.linkedAt ? `Unlink ${p.name}` : `Link ${p.name}`}
                </button>
              </div>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/**
 * A read-only history table, loaded once, with its loading, error and empty states; each row
 * starts with when it happened.
 */
function HistoryPanel<T>(props: {
  id: string;
  title: string;
  intro?: string;
  loadingLabel: string;
  emptyTitle: string;
  load: (signal: AbortSignal) => Promise<T[]>;
  time: (item: T) => string;
  columns: string[];
  row: (item: T) => ComponentChildren;
}) {
  const { data, error, loading } = useLoad(props.load, []);
  return (
    <section class="panel" aria-labelledby={props.id}>
      <h2 id={props.id}>{props.title}</h2>
      {props.intro && <p class="muted">{props.intro}</p>}
      {loading && !data && <Spinner label={props.loadingLabel} />}
      <ErrorNote error={error} />
      {data && data.length === 0 && <Empty title={props.emptyTitle} />}
      {data && data.length > 0 && (
        <div class="table-wrap" tabIndex={0}>
          <table aria-labelledby={props.id}>
            <thead>
              <tr>
                {['Time', ...props.columns].map((c) => (
                  <th key={c} scope="col">
                    {c}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {data.map((item, i) => (
                <tr key={i}>
                  <td class="nowrap">{formatDateTime(props.time(item))}</td>
                  {props.row(item)}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function SignIns() {
  return (
    <HistoryPanel
      id="signins-title"
      title="Sign-in history"
      loadingLabel="Loading sign-ins…"
      emptyTitle="No sign-ins recorded."
      load={(signal) =>
        api<Answer<'/me/sign-ins', 'get'>>('/me/sign-ins', { signal }).then((r) => r.signIns)
      }
      time={(s) => s.time}
      columns={['Method', 'Browser', 'Network']}
      row={(s) => (
        <>
          <td>{s.method === 'oidc' ? 'Provider' : 'Password'}</td>
          <td>{s.userAgent ?? '—'}</td>
          <td>{s.network ?? '—'}</td>
        </>
      )}
    />
  );
}

function Audit() {
  return (
    <HistoryPanel
      id="audit-title"
      title="Account history"
      intro="Changes to your account and what you did as an admin. Values are never kept here."
      loadingLabel="Loading history…"
      emptyTitle="Nothing recorded yet."
      load={(signal) =>
        api<Answer<'/me/audit', 'get'>>('/me/audit?limit=100', { signal }).then((r) => r.entries)
      }
      time={(a) => a.at}
      columns={['What', 'By', 'Details']}
      row={(a) => (
        <>
          <td>{a.action.replace(/_/g, ' ')}</td>
          <td>{a.actor.self ? 'You' : a.actor.userId ? 'An admin' : 'Someone no longer here'}</td>
          <td class="break">
            {Object.entries(a.details)
              .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : String(v)}`)
              .join('; ')}
          </td>
        </>
      )}
    />
  );
}
