import 'uplot/dist/uPlot.min.css';
import './style.css';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { type Answer, api, logout, type Me, onSessionChange, refresh } from './api';
import {
  AcceptInvitationPage,
  CompleteSignUpPage,
  ForgotPasswordPage,
  Logo,
  ResetPasswordPage,
  SignInPage,
  SignUpPage,
  VerifyEmailPage,
} from './pages/auth';
import { AdminPage } from './pages/admin/admin-page';
import { DevicePage } from './pages/device';
import { OrgsPage } from './pages/orgs';
import { OverviewPage } from './pages/overview';
import { SettingsPage } from './pages/settings';
import { navigate, onLinkClick, usePath } from './router';
import { ErrorNote, Spinner } from './ui';

const publicPages: Record<string, () => preact.JSX.Element> = {
  '/sign-up': () => <SignUpPage />,
  '/sign-up/complete': () => <CompleteSignUpPage />,
  '/forgot-password': () => <ForgotPasswordPage />,
  '/reset-password': () => <ResetPasswordPage />,
  '/verify-email': () => <VerifyEmailPage />,
  '/accept-invitation': () => <AcceptInvitationPage />,
};

let returnTo = '/';
/** Set once the API has confirmed a sign-out, for the sign-in page to say so. */
let signedOut = false;

function App() {
  const path = usePath();
  const [session, setSession] = useState<'unknown' | 'in' | 'out'>('unknown');
  const [me, setMe] = useState<Me | null>(null);
  const [meError, setMeError] = useState<unknown>(null);

  useEffect(() => onSessionChange((signedIn) => setSession(signedIn ? 'in' : 'out')), []);

  // Restore the session from the HttpOnly refresh cookie (nothing is kept in storage), once a
  // page needs it: the sign-up, verification and invitation pages work without a session.
  const needsSession = !(path in publicPages);
  useEffect(() => {
    if (session === 'unknown' && needsSession) {
      void refresh().then((ok) => setSession(ok ? 'in' : 'out'));
    }
  }, [needsSession]);

  const loadMe = () =>
    api<Answer<'/me', 'get'>>('/me').then(
      (m) => {
        setMe(m);
        setMeError(null);
      },
      (err: unknown) => setMeError(err),
    );

  useEffect(() => {
    if (session === 'in') void loadMe();
    else setMe(null);
  }, [session]);

  useEffect(() => {
    document.addEventListener('click', onLinkClick);
    return () => document.removeEventListener('click', onLinkClick);
  }, []);

  const publicPage = publicPages[path];
  if (publicPage) return publicPage();
  if (session === 'unknown') {
    return (
      <main id="main">
        <Spinner label="Opening Telemoat…" />
      </main>
    );
  }
  if (session === 'out') {
    if (path !== '/sign-in') {
      // Back to the page asked for after signing in (kept in memory only).
      returnTo = path + location.search;
      history.replaceState(null, '', '/sign-in');
    }
    return (
      <SignInPage
        notice={signedOut ? 'You are signed out.' : undefined}
        onSignedIn={() => {
          signedOut = false;
          setSession('in');
          const target = returnTo;
          returnTo = '/';
          navigate(target, { replace: true });
        }}
      />
    );
  }
  if (path === '/sign-in') {
    navigate('/', { replace: true });
    return null;
  }
  if (!me) {
    return meError ? (
      <main class="page" id="main">
        <h1>Telemoat</h1>
        <ErrorNote error={meError} />
        <button type="button" class="secondary" onClick={() => void loadMe()}>
          Try again
        </button>
      </main>
    ) : (
      <main id="main">
        <Spinner label="Loading your account…" />
      </main>
    );
  }
  return <Shell me={me} path={path} reloadMe={loadMe} />;
}

function Shell({ me, path, reloadMe }: { me: Me; path: string; reloadMe: () => Promise<void> }) {
  const match = /^\/orgs\/([0-9a-f-]{36})(\/.*)?$/.exec(path);
  const orgId = match?.[1] ?? null;
  const rest = match?.[2] ?? '';
  const org = me.organisations.find((o) => o.id === orgId) ?? null;
  const remembered = me.organisations.find((o) => o.id === lastOrgId) ?? me.organisations[0];
  const current = org ?? (path === '/settings' ? remembered : null) ?? null;
  if (org) lastOrgId = org.id;

  // `/` goes to the organisation last used, or the list when there is none.
  useEffect(() => {
    if (path === '/') {
      navigate(remembered && me.organisations.length === 1 ? `/orgs/${remembered.id}` : '/orgs', {
        replace: true,
      });
    }
  }, [path]);

  let page: preact.JSX.Element;
  let deviceMatch: RegExpExecArray | null = null;
  if (path === '/orgs' || path === '/') {
    page = <OrgsPage me={me} onCreated={reloadMe} />;
  } else if (path === '/settings') {
    page = <SettingsPage me={me} onChanged={reloadMe} />;
  } else if (!org) {
    page = <NotFound text="This organisation does not exist, or you are not one of its members." />;
  } else if (rest === '' || rest === '/') {
    page = <OverviewPage org={org} />;
  } else if (rest === '/admin') {
    page = <AdminPage org={org} me={me} />;
  } else if ((deviceMatch = /^\/devices\/([^/]+)$/.exec(rest))) {
    page = <DevicePage org={org} deviceId={decodeURIComponent(deviceMatch[1] ?? '')} />;
  } else {
    page = <NotFound text="There is no page at this address." />;
  }

  const link = (href: string, label: string, active: boolean) => (
    <li>
      <a href={href} aria-current={active ? 'page' : undefined}>
        {label}
      </a>
    </li>
  );
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <a class="brand" href={current ? `/orgs/${current.id}` : '/orgs'}>
          <Logo /> Telemoat
        </a>
        <OrgSwitcher me={me} currentId={current?.id ?? null} />
        <SignOutButton />
        <nav aria-label="Main" class="mainnav">
          <ul>
            {current &&
              link(
                `/orgs/${current.id}`,
                'Overview',
                org !== null && (rest === '' || rest === '/' || rest.startsWith('/devices')),
              )}
            {current && link(`/orgs/${current.id}/admin`, 'Admin', rest === '/admin')}
            {link('/settings', 'Settings', path === '/settings')}
            {link('/orgs', 'Organisations', path === '/orgs')}
          </ul>
          <ul class="soon" aria-label="Coming soon">
            {['Data export', 'Delete account', 'Consents', 'Privacy'].map((label) => (
              <li key={label}>
                <a aria-disabled="true" role="link" tabIndex={0} title={`${label}: coming soon`}>
                  {label} <span class="badge">soon</span>
                </a>
              </li>
            ))}
          </ul>
        </nav>
      </header>
      <main id="main" class="page" tabIndex={-1}>
        {page}
      </main>
    </>
  );
}

let lastOrgId: string | null = null;

function OrgSwitcher({ me, currentId }: { me: Me; currentId: string | null }) {
  if (me.organisations.length === 0) return <span class="orgswitch" />;
  return (
    <div class="orgswitch">
      <label for="org-switcher">Organisation</label>
      <select
        id="org-switcher"
        value={currentId ?? ''}
        onChange={(e) => {
          const id = e.currentTarget.value;
          if (id) navigate(`/orgs/${id}`);
        }}
      >
        {currentId === null && <option value="">Choose…</option>}
        {me.organisations.map((o) => (
          <option key={o.id} value={o.id}>
            {o.name}
          </option>
        ))}
      </select>
    </div>
  );
}

function NotFound({ text }: { text: string }) {
  return (
    <>
      <h1>Not found</h1>
      <p>{text}</p>
      <p>
        <a href="/orgs">Your organisations</a>
      </p>
    </>
  );
}

render(<App />, document.getElementById('app')!);

/** Signs out, and says so only once the API has confirmed it. */
function SignOutButton() {
  const [failed, setFailed] = useState(false);
  return (
    <>
      <button
        type="button"
        class="ghost signout"
        onClick={() =>
          void logout().then(
            () => {
              signedOut = true;
              navigate('/sign-in', { replace: true });
            },
            () => setFailed(true),
          )
        }
      >
        Sign out
      </button>
      {failed && (
        <p class="note error signout-error" role="alert">
          Signing out did not reach Telemoat, so you are still signed in here. Try again.
        </p>
      )}
    </>
  );
}
