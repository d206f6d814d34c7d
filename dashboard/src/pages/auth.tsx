import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { type Answer, api, ApiError, type Body, login } from '../api';
import { fragmentToken } from '../router';
import { Checkbox, ErrorNote, Field, NewPasswordField, Spinner, useSubmit } from '../ui';

/** The centred card the signed-out pages share. */
function AuthCard(props: { title: string; intro?: string; children: ComponentChildren }) {
  return (
    <main class="auth" id="main">
      <div class="auth-card">
        <p class="brand-mark" aria-hidden="true">
          <Logo /> Telemoat
        </p>
        <h1>{props.title}</h1>
        {props.intro && <p class="lead">{props.intro}</p>}
        {props.children}
      </div>
    </main>
  );
}

export function Logo() {
  return (
    <svg class="logo" viewBox="0 0 24 24" width="22" height="22" aria-hidden="true">
      <circle cx="12" cy="12" r="10" fill="none" stroke="currentColor" stroke-width="2" />
      <path d="M5 13h3l2-5 4 9 2-4h3" fill="none" stroke="currentColor" stroke-width="2" />
    </svg>
  );
}

/** A signed-out page's form: its fields, why it failed, and a wide button that says it is busy. */
function AuthForm(props: {
  action: string;
  busyAction: string;
  onSubmit: () => Promise<void>;
  children: ComponentChildren;
}) {
  const { busy, error, onSubmit } = useSubmit();
  return (
    <form onSubmit={onSubmit(props.onSubmit)}>
      {props.children}
      <ErrorNote error={error} />
      <button type="submit" class="primary block" disabled={busy}>
        {busy ? props.busyAction : props.action}
      </button>
    </form>
  );
}

const noTokenError = new ApiError(
  400,
  'TOKEN_INVALID',
  'This link has no token. Open the link from the e-mail again.',
);

type Providers = Answer<'/auth/oidc/providers', 'get'>['providers'];

/** The identity providers the API offers for "Sign in with …" (none unless configured). */
function useOidcProviders(): Providers {
  const [providers, setProviders] = useState<Providers>([]);
  useEffect(() => {
    api<Answer<'/auth/oidc/providers', 'get'>>('/auth/oidc/providers').then(
      (answer) => setProviders(answer.providers),
      () => setProviders([]),
    );
  }, []);
  return providers;
}

export function SignInPage({
  onSignedIn,
  notice,
}: {
  onSignedIn: () => void;
  notice?: string | undefined;
}) {
  const oidcProviders = useOidcProviders();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  return (
    <AuthCard title="Sign in" intro="Your devices' readings, for your organisation only.">
      {notice && (
        <p class="note success" role="status">
          {notice}
        </p>
      )}
      <AuthForm
        action="Sign in"
        busyAction="Signing in…"
        onSubmit={async () => {
          await login(email, password);
          onSignedIn();
        }}
      >
        <Field
          label="E-mail"
          type="email"
          autocomplete="username"
          required
          value={email}
          onInput={setEmail}
        />
        <Field
          label="Password"
          type="password"
          autocomplete="current-password"
          required
          value={password}
          onInput={setPassword}
        />
      </AuthForm>
      {oidcProviders.length > 0 && (
        <div class="providers">
          {oidcProviders.map((p) => (
            <a
              key={p.id}
              class="button secondary block"
              href={`/api/v1/auth/oidc/${encodeURIComponent(p.id)}/start`}
            >
              Sign in with {p.name}
            </a>
          ))}
        </div>
      )}
      <p class="switch">
        <a href="/forgot-password">Forgot your password?</a>
      </p>
      <p class="switch">
        New to Telemoat? <a href="/sign-up">Create an account</a>
      </p>
    </AuthCard>
  );
}

/** The privacy terms checkbox of the pages that make an account. */
function TermsCheckbox(props: {
  version: string | null;
  checked: boolean;
  onChange: (checked: boolean) => void;
}) {
  return (
    <Checkbox
      label={`I accept the privacy terms${props.version ? ` (version ${props.version})` : ''}`}
      required
      checked={props.checked}
      onChange={props.onChange}
    />
  );
}

function useTermsVersion(): string | null {
  const [version, setVersion] = useState<string | null>(null);
  useEffect(() => {
    api<Answer<'/auth/privacy-terms', 'get'>>('/auth/privacy-terms').then(
      (v) => setVersion(v.version),
      () => setVersion('1'),
    );
  }, []);
  return version;
}

/**
 * A page that asks only for an e-mail address and sends a link there; the answer is the same
 * whether or not the address has an account, so the page says the same too.
 */
function EmailLinkPage(props: {
  title: string;
  intro: string;
  path: '/auth/signup' | '/auth/password-reset';
  sent: (email: string) => ComponentChildren;
  footer: ComponentChildren;
}) {
  const [email, setEmail] = useState('');
  const [sent, setSent] = useState(false);
  return (
    <AuthCard title={props.title} intro={props.intro}>
      {sent ? (
        <p class="note success" role="status">
          {props.sent(email)}
        </p>
      ) : (
        <AuthForm
          action="Send the link"
          busyAction="Sending…"
          onSubmit={async () => {
            await api(props.path, {
              method: 'POST',
              body: { email } satisfies Body<typeof props.path, 'post'>,
            });
            setSent(true);
          }}
        >
          <Field
            label="E-mail"
            type="email"
            autocomplete="email"
            required
            value={email}
            onInput={setEmail}
          />
        </AuthForm>
      )}
      <p class="switch">{props.footer}</p>
    </AuthCard>
  );
}

/** Sign-up asks only for the address: the link sent there is where name and password are chosen. */
export function SignUpPage() {
  return (
    <EmailLinkPage
      title="Create your account"
      intro="Start with your e-mail address: we send a link there to choose your name and password."
      path="/auth/signup"
      sent={(email) => (
        <>
          We sent a link to <strong>{email}</strong>. Open it to choose your name and password. The
          link works once.
        </>
      )}
      footer={
        <>
          Already have an account? <a href="/sign-in">Sign in</a>
        </>
      }
    />
  );
}

/** The sign-up link's page: only whoever holds the link chooses the account's credentials (P5). */
export function CompleteSignUpPage() {
  const terms = useTermsVersion();
  const [token] = useState(fragmentToken);
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [accepted, setAccepted] = useState(false);
  const [omitNames, setOmitNames] = useState(false);
  const [done, setDone] = useState(false);
  useEffect(() => history.replaceState(null, '', location.pathname), []);
  if (done) {
    return (
      <AuthCard title="Your account is ready">
        <p class="note success" role="status">
          Your e-mail address is verified and your account is active.
        </p>
        <p class="switch">
          <a href="/sign-in">Sign in</a>
        </p>
      </AuthCard>
    );
  }
  return (
    <AuthCard title="Choose your name and password">
      {!token ? (
        <ErrorNote error={noTokenError} />
      ) : (
        <AuthForm
          action="Create account"
          busyAction="Creating account…"
          onSubmit={async () => {
            await api('/auth/signup/complete', {
              method: 'POST',
              body: {
                token,
                name,
                password,
                termsVersion: terms ?? '1',
                settings: { omitNamesInEmail: omitNames },
              } satisfies Body<'/auth/signup/complete', 'post'>,
            });
            setDone(true);
          }}
        >
          <Field label="Name" autocomplete="name" required value={name} onInput={setName} />
          <NewPasswordField label="Password" value={password} onInput={setPassword} />
          <TermsCheckbox version={terms} checked={accepted} onChange={setAccepted} />
          <Checkbox
            label="Leave titles and names out of e-mails"
            checked={omitNames}
            onChange={setOmitNames}
          />
        </AuthForm>
      )}
      <p class="switch">
        <a href="/sign-in">Sign in instead</a>
      </p>
    </AuthCard>
  );
}

export function VerifyEmailPage() {
  const [state, setState] = useState<{ status?: string; error?: unknown }>({});
  useEffect(() => {
    const token = fragmentToken();
    // The token leaves the address bar once read, so it is not kept in history.
    history.replaceState(null, '', location.pathname);
    if (!token) {
      setState({ error: noTokenError });
      return;
    }
    api<Answer<'/auth/verify-email', 'post'>>('/auth/verify-email', {
      method: 'POST',
      body: { token } satisfies Body<'/auth/verify-email', 'post'>,
    }).then(
      (r) => setState({ status: r.status }),
      (error: unknown) =>
        setState({
          error:
            error instanceof ApiError && error.code === 'VALIDATION_FAILED'
              ? new ApiError(
                  400,
                  'TOKEN_INVALID',
                  'This link is not valid. Open the link from the e-mail again.',
                )
              : error,
        }),
    );
  }, []);
  return (
    <AuthCard title="Verify your e-mail">
      {!state.status && !state.error && <Spinner label="Checking your link…" />}
      {state.status && (
        <p class="note success" role="status">
          Your new e-mail address is confirmed.
        </p>
      )}
      <ErrorNote error={state.error} />
      <p class="switch">
        <a href="/sign-in">Sign in</a>
      </p>
    </AuthCard>
  );
}

export function AcceptInvitationPage() {
  const terms = useTermsVersion();
  const [token] = useState(fragmentToken);
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [accepted, setAccepted] = useState(false);
  const [done, setDone] = useState<Answer<'/invitations/accept', 'post'> | null>(null);
  useEffect(() => history.replaceState(null, '', location.pathname), []);
  if (done) {
    return (
      <AuthCard title="Accept your invitation">
        <p class="note success" role="status">
          {done.alreadyMember
            ? `You were a member already; your role stays ${done.organisation.role}.`
            : 'Invitation accepted. You are a member now.'}
        </p>
        <p class="switch">
          <a href="/sign-in">Sign in</a>
        </p>
      </AuthCard>
    );
  }
  return (
    <AuthCard
      title="Accept your invitation"
      intro="Choose a password to join the organisation that invited you. If you already have an account, enter its password."
    >
      {!token ? (
        <ErrorNote error={noTokenError} />
      ) : (
        <AuthForm
          action="Accept invitation"
          busyAction="Accepting…"
          onSubmit={async () => {
            const answer = await api<Answer<'/invitations/accept', 'post'>>('/invitations/accept', {
              method: 'POST',
              body: {
                token,
                password,
                termsVersion: terms ?? '1',
                ...(name.trim() ? { name } : {}),
              } satisfies Body<'/invitations/accept', 'post'>,
            });
            setDone(answer);
          }}
        >
          <Field label="Your name (optional)" autocomplete="name" value={name} onInput={setName} />
          <NewPasswordField label="Password" value={password} onInput={setPassword} />
          <TermsCheckbox version={terms} checked={accepted} onChange={setAccepted} />
        </AuthForm>
      )}
      <p class="switch">
        <a href="/sign-in">Sign in instead</a>
      </p>
    </AuthCard>
  );
}

export function ForgotPasswordPage() {
  return (
    <EmailLinkPage
      title="Reset your password"
      intro="We send a link to your e-mail address to choose a new password."
      path="/auth/password-reset"
      sent={(email) => (
        <>
          If <strong>{email}</strong> has a Telemoat account, a link is on its way. It works once,
          for one hour.
        </>
      )}
      footer={<a href="/sign-in">Back to sign in</a>}
    />
  );
}

export function ResetPasswordPage() {
  const [token] = useState(fragmentToken);
  const [password, setPassword] = useState('');
  const [done, setDone] = useState(false);
  useEffect(() => history.replaceState(null, '', location.pathname), []);
  return (
    <AuthCard title="Choose a new password">
      {done ? (
        <p class="note success" role="status">
          Your password is changed, and every session of your account has ended.
        </p>
      ) : !token ? (
        <ErrorNote error={noTokenError} />
      ) : (
        <AuthForm
          action="Set password"
          busyAction="Saving…"
          onSubmit={async () => {
            await api('/auth/password-reset/complete', {
              method: 'POST',
              body: { token, password } satisfies Body<'/auth/password-reset/complete', 'post'>,
            });
            setDone(true);
          }}
        >
          <NewPasswordField label="New password" value={password} onInput={setPassword} />
        </AuthForm>
      )}
      <p class="switch">
        <a href="/sign-in">Sign in</a>
      </p>
    </AuthCard>
  );
}
