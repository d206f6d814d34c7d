import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBrowser } from '../support/browser.js';
import { startPlatformWithProvider, type TestOpenIdProvider } from '../support/oidc-provider.js';
import type { TestPlatform } from '../support/platform.js';

const PROVIDER = 'test-idp';

/** Linking, using and unlinking the user's own provider from the dashboard, in a real browser. */
describe('P8: linking a sign-in provider in Settings', () => {
  let platform: TestPlatform;
  let idp: TestOpenIdProvider;
  let orgId: string;

  beforeAll(async () => {
    ({ platform, idp } = await startPlatformWithProvider(PROVIDER, {
      sub: 'dashboard-user-at-idp',
      email: 'nobody@example.test',
      emailVerified: true,
    }));
    orgId = (await platform.createOrg('OIDC Dashboard AB')).id;
  });

  afterAll(async () => {
    await platform?.close();
    await idp?.close();
  });

  const { open } = useBrowser(() => platform.apiUrl);

  it('P8: a signed-in user links the provider in Settings, signs in with it, and unlinks it', async () => {
    const user = await platform.createMember(orgId);
    idp.account.email = user.email;
    const session = await open();
    const { page } = session;
    const signOut = page.getByRole('button', { name: 'Sign out' });

    await page.goto('/sign-in');
    await page.getByLabel('E-mail', { exact: true }).fill(user.email);
    await page.getByLabel('Password', { exact: true }).fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await signOut.waitFor();
    await page.goto('/settings');
    const panel = page.getByRole('region', { name: 'Sign-in providers' });
    await panel.getByText('Not linked: it cannot sign you in').waitFor();

    // To the provider and back to Settings, where the link shows.
    await panel
      .getByLabel('Current password (to link a provider)', { exact: true })
      .fill(user.password);
    await panel.getByRole('button', { name: 'Link Test Identity' }).click();
    await panel.getByRole('button', { name: 'Unlink Test Identity' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/settings');
    const linked = await platform.adminPool.query(
      'SELECT 1 FROM oidc_identities WHERE user_id = $1',
      [user.userId],
    );
    expect(linked.rowCount).toBe(1);

    // Signed out, the provider signs this account in.
    await signOut.click();
    await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
    await page.getByRole('link', { name: 'Sign in with Test Identity' }).click();
    await signOut.waitFor();
    await page.goto('/settings');
    await page.getByRole('heading', { level: 1, name: 'Settings' }).waitFor();
    expect(await page.getByText(user.email).first().isVisible()).toBe(true);

    // Unlinked, it no longer does.
    await panel.getByRole('button', { name: 'Unlink Test Identity' }).click();
    await panel.getByRole('button', { name: 'Link Test Identity' }).waitFor();
    await signOut.click();
    expect(session.problems).toEqual([]);
    await page.getByRole('link', { name: 'Sign in with Test Identity' }).click();
    // The refusal is the API's JSON error page, whose 401 the browser reports in the console.
    await page.getByText('OIDC_FAILED').waitFor();
    expect(new URL(page.url()).pathname).toBe(`/api/v1/auth/oidc/${PROVIDER}/callback`);
  });
});
