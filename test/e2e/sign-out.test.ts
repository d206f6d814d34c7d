import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBrowser } from '../support/browser.js';
import { testClock } from '../support/clock.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';

/**
 * P9 in a real browser: signing out ends the session whatever the state of the access token,
 * and the dashboard says "signed out" only once the API has confirmed it. The platform's clock
 * is a test clock, so the access token expires when the test says so.
 */
const TOKEN_TTL_SECONDS = 300;

describe('P9: signing out in the dashboard', () => {
  const clock = testClock(Date.now());
  let platform: TestPlatform;

  const browserSessions = useBrowser(() => platform.apiUrl);

  beforeAll(async () => {
    platform = await startTestPlatform(
      { ACCESS_TOKEN_TTL_SECONDS: String(TOKEN_TTL_SECONDS) },
      { now: clock.now },
    );
  });

  afterAll(async () => {
    await platform?.close();
  });

  async function signedIn() {
    const org = await platform.createOrg('Sign-out AB');
    const user = await platform.createMember(org.id);
    const session = await browserSessions.open();
    const { page } = session;
    await page.goto('/');
    await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
    await page.getByLabel('E-mail', { exact: true }).fill(user.email);
    await page.getByLabel('Password', { exact: true }).fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    return { session, user };
  }

  const liveSessions = async (userId: string) =>
    (
      await platform.adminPool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM sessions WHERE user_id = $1 AND revoked_at IS NULL`,
        [userId],
      )
    ).rows[0]!.n;

  it('P9: with an expired access token, signing out ends the session, and a reload does not sign the browser in again', async () => {
    const { session, user } = await signedIn();
    const { page } = session;
    expect(await liveSessions(user.userId)).toBe(1);
    // The tab slept past the access token's lifetime.
    clock.advance((TOKEN_TTL_SECONDS + 60) * 1000);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('status').filter({ hasText: 'You are signed out.' }).waitFor();
    expect(await liveSessions(user.userId)).toBe(0);

    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
    expect(await page.getByRole('button', { name: 'Sign out' }).count()).toBe(0);
    expect(session.problems).toEqual([]);
  });

  it('P9: when signing out does not reach the API, the dashboard says so and keeps the user signed in', async () => {
    const { session, user } = await signedIn();
    const { page } = session;
    await page.route('**/api/v1/auth/logout', (route) => route.abort('connectionfailed'));
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('alert').filter({ hasText: 'still signed in' }).waitFor();
    expect(await liveSessions(user.userId)).toBe(1);

    await page.unroute('**/api/v1/auth/logout');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('status').filter({ hasText: 'You are signed out.' }).waitFor();
    expect(await liveSessions(user.userId)).toBe(0);
  });
});
