import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAccount } from '../support/accounts.js';
import {
  launchBrowser,
  openSession,
  unnamedFormControls,
  type TestSession,
} from '../support/browser.js';
import { call, CookieJar } from '../support/http-session.js';
import { connectDevice } from '../support/mqtt-device.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';
import { startTestMailbox, type TestMailbox } from '../support/smtp-catcher.js';

const DIST = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'dashboard',
  'dist',
);
const XSS = '<img src=x onerror=alert(1)>';
const LIVE_WITHIN_MS = 5000;

/** A port the OS has just handed out, so that PUBLIC_URL (links in e-mails) can name it. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const heading = (page: Page, name: string) => page.getByRole('heading', { level: 1, name });

/**
 * What the chart of `metric` says about its newest point: the pointer rests on the right end of
 * the plot and uPlot's legend (part of the figure) shows the value under it. The pointer moves
 * leftwards a few pixels at a time until it is over the plot and the legend shows a value.
 */
async function valueAtEndOfChart(page: Page, metric: RegExp): Promise<string> {
  const figure = page.getByRole('figure').filter({ hasText: metric });
  await figure.scrollIntoViewIfNeeded();
  const box = await figure.boundingBox();
  const caption = await figure.locator('figcaption').boundingBox();
  if (!box || !caption) return '';
  const y = caption.y + caption.height + 100;
  for (let inset = 2; inset < 120; inset += 6) {
    await page.mouse.move(box.x + box.width - inset, y);
    const legend = (await figure.getByRole('table').allInnerTexts()).join(' ');
    // Without a point under the pointer the legend shows '—' (our format) or '--' (uPlot's).
    if (legend !== '' && !/—|--/.test(legend)) return legend;
  }
  return '';
}

/**
 * Issue 6: the dashboard in a real browser (Debian's Chromium) against the whole platform,
 * from sign-up to "log out everywhere", with real SMTP and a real MQTT device.
 */
describe('dashboard in a browser', () => {
  let mailbox: TestMailbox;
  let platform: TestPlatform;
  let browser: Browser;
  const sessions: TestSession[] = [];
  /** Form controls without an accessible name, per page visited. */
  const unnamed = new Map<string, string[]>();

  async function session(): Promise<TestSession> {
    const opened = await openSession(browser, platform.apiUrl);
    sessions.push(opened);
    return opened;
  }

  /** Records the page's unnamed form controls under `label` (asserted empty at the end). */
  async function audit(page: Page, label: string) {
    unnamed.set(label, await unnamedFormControls(page));
  }

  beforeAll(async () => {
    if (!existsSync(path.join(DIST, 'index.html'))) {
      throw new Error('dashboard/dist is missing: run `npm run build` (npm test does it first)');
    }
    const port = await freePort();
    mailbox = await startTestMailbox();
    [platform, browser] = await Promise.all([
      startTestPlatform({
        SMTP_URL: mailbox.url,
        API_PORT: String(port),
        PUBLIC_URL: `http://127.0.0.1:${port}`,
      }),
      launchBrowser(),
    ]);
  });

  afterAll(async () => {
    await Promise.all(sessions.map((s) => s.close().catch(() => {})));
    await browser?.close();
    await platform?.close();
    await mailbox?.stop();
  });

  it('sign-up, e-mailed link, sign-in, organisation, device, live readings, CSV, settings, log out everywhere', async () => {
    const { page, context, problems, visited, screenshots } = await session();
    const account = newAccount('Ingrid Bergström');

    // Signed out, every path leads to the sign-in page.
    await page.goto('/');
    await heading(page, 'Sign in').waitFor();
    expect(new URL(page.url()).pathname).toBe('/sign-in');
    await audit(page, 'sign-in');
    await screenshots('sign-in');

    // Sign up: the address first...
    await page.getByRole('link', { name: 'Create an account' }).click();
    await heading(page, 'Create your account').waitFor();
    await audit(page, 'sign-up');
    await page.getByLabel('E-mail', { exact: true }).fill(account.email);
    await page.getByRole('button', { name: 'Send the link' }).click();
    await page.getByRole('status').filter({ hasText: 'We sent a link to' }).waitFor();

    // ...then the link from the e-mail, opened in the browser (the token travels in the
    // fragment), where name and password are chosen.
    const mail = await mailbox.next(account.email);
    const link = /http:\/\/\S+\/sign-up\/complete#token=[A-Za-z0-9_-]{43}/.exec(mail.text)?.[0];
    expect(link, mail.text).toBeDefined();
    expect(link!.startsWith(`${platform.apiUrl}/sign-up/complete#token=`)).toBe(true);
    await page.goto(link!);
    await heading(page, 'Choose your name and password').waitFor();
    await audit(page, 'complete-sign-up');
    await page.getByLabel('Name', { exact: true }).fill(account.name);
    await page.getByLabel('Password', { exact: true }).fill(account.password);
    await page.getByRole('checkbox', { name: /I accept the privacy terms/ }).check();
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText('Your e-mail address is verified and your account is active.').waitFor();
    await page.getByRole('link', { name: 'Sign in' }).click();

    // A session outside the browser: "log out everywhere" must end it too.
    const otherSession = await platform.login(account.email, account.password);

    // Sign in.
    await heading(page, 'Sign in').waitFor();
    await page.getByLabel('E-mail', { exact: true }).fill(account.email);
    await page.getByLabel('Password', { exact: true }).fill(account.password);
    await page.getByRole('button', { name: 'Sign in' }).click();

    // Create an organisation.
    await heading(page, 'Your organisations').waitFor();
    await audit(page, 'organisations');
    await page.getByLabel('Organisation name').fill('Greenhouse Co');
    await page.getByRole('button', { name: 'Create organisation' }).click();
    // A new organisation opens its (empty) overview.
    await heading(page, 'Overview').waitFor();
    const orgId = /\/orgs\/([0-9a-f-]{36})/.exec(page.url())?.[1];
    expect(orgId, page.url()).toBeDefined();

    // Provision a device in the admin page; its secret is shown once.
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Admin' })
      .click();
    await heading(page, 'Organisation admin').waitFor();
    await page.getByLabel('Device name').fill('Tomato house 1');
    await page.getByRole('button', { name: 'Add device' }).click();
    const secretDialog = page.getByRole('dialog', { name: 'Device secret for Tomato house 1' });
    await secretDialog.waitFor();
    const codes = await secretDialog.getByRole('code').allTextContents();
    const command = codes.find((text) => text.includes('mosquitto_pub'));
    const deviceId = /-u '([^']+)'/.exec(command ?? '')?.[1];
    const secret = codes
      .map((text) => text.trim())
      .find((text) => text !== deviceId && !text.includes('mosquitto_pub'));
    expect(command, codes.join('\n')).toBeDefined();
    // The dialog shows the id, the secret and the command, which uses both.
    expect(codes.map((text) => text.trim())).toContain(deviceId);
    expect(secret, codes.join('\n')).toMatch(/^\S{20,}$/);
    expect(command).toContain(`-P '${secret}'`);
    await secretDialog.getByRole('button', { name: 'Done' }).click();
    await secretDialog.waitFor({ state: 'hidden' });
    expect(await page.getByText(secret!).count()).toBe(0);
    await audit(page, 'admin');
    await screenshots('admin');

    // A real MQTT device publishes the last half hour of readings, then live ones.
    const device = await connectDevice(platform.mqttUrl, { id: deviceId!, secret: secret! });
    const topic = `devices/${deviceId}/telemetry`;
    const now = Date.now();
    const history = Array.from({ length: 30 }, (_, i) => ({
      ts: now - (30 - i) * 60_000,
      readings: {
        temperature: Math.round((20 + 3 * Math.sin(i / 5)) * 10) / 10,
        humidity: Math.round(60 + 10 * Math.cos(i / 6)),
      },
    }));
    await device.publishAsync(topic, JSON.stringify(history), { qos: 1 });
    // A second device, provisioned directly, so the overview shows more than one card.
    const other = await platform.provisionDevice(orgId!, 'Seed tray 2');
    const otherClient = await connectDevice(platform.mqttUrl, other);
    await otherClient.publishAsync(
      `devices/${other.id}/telemetry`,
      JSON.stringify(
        history.map((h) => ({ ts: h.ts, readings: { temperature: h.readings.temperature - 2 } })),
      ),
      { qos: 1 },
    );
    const stored = (id: string) => async () => {
      const answer = await platform.get(
        `/api/v1/orgs/${orgId}/devices/${id}/readings?metric=temperature`,
        otherSession,
      );
      return (answer.body as { readings?: unknown[] }).readings?.length ?? 0;
    };
    await expect.poll(stored(deviceId!), { timeout: 10_000 }).toBe(history.length);
    await expect.poll(stored(other.id), { timeout: 10_000 }).toBe(history.length);

    // The device page, opened from the overview's card.
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Overview' })
      .click();
    await heading(page, 'Overview').waitFor();
    await page.getByRole('main').getByRole('link', { name: 'Tomato house 1' }).click();
    await heading(page, 'Tomato house 1').waitFor();
    await page
      .getByRole('figure')
      .filter({ hasText: /temperature/i })
      .waitFor();
    await audit(page, 'device');
    // Every reading of the last hour, and the live stream on (the default).
    await page.getByRole('radio', { name: '1 h' }).check();
    expect(await page.getByRole('checkbox', { name: 'Live updates' }).isChecked()).toBe(true);
    await page
      .getByRole('status')
      .filter({ hasText: /^Live$/ })
      .waitFor();

    // Live: a new reading appears on the open page, without a reload.
    const temperatureChart = page.getByRole('figure').filter({ hasText: /temperature/i });
    const points = async () => Number(await temperatureChart.getAttribute('data-points'));
    await expect.poll(points).toBe(history.length);
    await page.evaluate('window.__sameDocument = true');
    await device.publishAsync(
      topic,
      JSON.stringify({ ts: Date.now(), readings: { temperature: 27.35 } }),
      { qos: 1 },
    );
    await expect.poll(points, { timeout: LIVE_WITHIN_MS }).toBe(history.length + 1);
    // What a person sees: the pointer on the end of the line, the legend shows the new value.
    await expect.poll(() => valueAtEndOfChart(page, /temperature/i)).toMatch(/27\.35/);
    await expect
      .poll(() => page.getByLabel('Latest values').textContent(), { timeout: LIVE_WITHIN_MS })
      .toMatch(/27\.35/);
    expect(await page.evaluate('window.__sameDocument === true')).toBe(true);
    await screenshots('device', { fullPage: true });

    // Download CSV: the browser's download carries the organisation's export.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download CSV' }).click(),
    ]);
    const csv = await readFile(await download.path(), 'utf8');
    const lines = csv.trim().split(/\r?\n/);
    expect(lines[0]).toBe('time,device_id,device_name,metric,value');
    const last = history.at(-1)!;
    expect(lines).toContainEqual(
      `${new Date(last.ts).toISOString()},${deviceId},Tomato house 1,temperature,${last.readings.temperature}`,
    );
    expect(lines.every((line) => !line.includes('Seed tray 2'))).toBe(true);
    // The live reading that arrived after the page opened is in the download too.
    expect(lines.some((line) => line.endsWith(',temperature,27.35'))).toBe(true);

    // A custom range shows two more controls; they are named too.
    await page.getByRole('radio', { name: 'Custom' }).check();
    await page.getByLabel('From', { exact: true }).waitFor();
    await audit(page, 'device, custom range');

    // The overview, with both devices' cards (both still connected).
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Overview' })
      .click();
    await heading(page, 'Overview').waitFor();
    await page.getByRole('main').getByRole('link', { name: 'Seed tray 2' }).waitFor();
    await page.getByRole('img', { name: /^Recent \w+ of Tomato house 1$/ }).waitFor();
    // The card's latest values include the reading that arrived live.
    await page
      .getByRole('listitem')
      .filter({ hasText: 'Tomato house 1' })
      .getByText(/27\.35/)
      .waitFor();
    await audit(page, 'overview');
    await screenshots('overview');
    await Promise.all([device.endAsync(), otherClient.endAsync()]);

    // Settings: a new name and the "leave names out of e-mails" switch, as the API sees them.
    await page
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Settings' })
      .click();
    await heading(page, 'Settings').waitFor();
    await audit(page, 'settings');
    await page.getByLabel('Name', { exact: true }).fill('Ingrid B.');
    await page.getByRole('button', { name: 'Save profile' }).click();
    await page.getByRole('status').filter({ hasText: /saved/i }).first().waitFor();
    // Saved as soon as it changes; the box shows the saved state once the API has answered.
    const omitNames = page.getByRole('checkbox', { name: 'Leave titles and names out of e-mails' });
    await omitNames.click();
    await expect.poll(() => omitNames.isChecked()).toBe(true);
    await expect
      .poll(async () => (await platform.get('/api/v1/me', otherSession)).body, { timeout: 5000 })
      .toMatchObject({ name: 'Ingrid B.', settings: { omitNamesInEmail: true } });
    await screenshots('settings');

    // Log out everywhere: the page returns to sign-in and no session of this user survives.
    const cookieBefore = (await context.cookies()).find((c) => c.name === 'telemoat_refresh');
    expect(cookieBefore).toBeDefined();
    await page.getByRole('button', { name: 'Log out everywhere' }).click();
    const confirm = page.getByRole('dialog', { name: 'Log out everywhere?' });
    await confirm.getByRole('button', { name: 'Log out everywhere' }).click();
    await heading(page, 'Sign in').waitFor();
    // The next navigation needs a sign-in again.
    await page.goto(`/orgs/${orgId}`);
    await heading(page, 'Sign in').waitFor();
    expect(new URL(page.url()).pathname).toBe('/sign-in');
    expect(await page.getByRole('heading', { name: 'Overview' }).count()).toBe(0);
    // The refresh cookie the browser held is refused, and so is the API session from elsewhere.
    const jar = new CookieJar();
    jar.set('telemoat_refresh', cookieBefore!.value);
    const refresh = await call(`${platform.apiUrl}/api/v1/auth/refresh`, {
      method: 'POST',
      jar,
      csrf: true,
    });
    expect(refresh.status).toBe(401);
    const fromContext = await context.request.post('/api/v1/auth/refresh', {
      headers: { 'x-telemoat-csrf': '1' },
    });
    // Logging out cleared the browser's refresh cookie: nothing is presented, no token issued.
    expect(fromContext.status()).toBe(204);
    expect((await context.request.get('/api/v1/me')).status()).toBe(401);
    expect((await platform.get('/api/v1/me', otherSession)).status).toBe(401);

    expect(problems, `pages visited:\n${visited.join('\n')}`).toEqual([]);
  }, 60_000);

  it('names that look like HTML render as text: no element, no script, no dialog', async () => {
    const { page, problems } = await session();
    const dialogs: string[] = [];
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    const org = await platform.createOrg(XSS);
    const owner = await platform.createMember(org.id, 'owner');
    await platform.provisionDevice(org.id, XSS);

    await page.goto('/sign-in');
    await page.getByLabel('E-mail', { exact: true }).fill(owner.email);
    await page.getByLabel('Password', { exact: true }).fill(owner.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    // One organisation: the dashboard opens its overview.
    await heading(page, 'Overview').waitFor();

    const noInjectedImage = async (where: string) => {
      expect(await page.locator('img[src="x"], img[onerror]').count(), where).toBe(0);
    };
    const main = page.getByRole('main');
    const nav = page.getByRole('navigation', { name: 'Main' });

    const deviceLink = main.getByRole('link', { name: XSS });
    await deviceLink.waitFor();
    expect(await deviceLink.textContent()).toContain(XSS);
    expect(await page.getByRole('combobox', { name: 'Organisation' }).textContent()).toContain(XSS);
    await noInjectedImage('overview');

    await deviceLink.click();
    await heading(page, XSS).waitFor();
    expect(await heading(page, XSS).textContent()).toBe(XSS);
    await noInjectedImage('device');

    await nav.getByRole('link', { name: 'Admin' }).click();
    await heading(page, 'Organisation admin').waitFor();
    await main.getByText(XSS, { exact: true }).first().waitFor();
    await noInjectedImage('admin');

    await nav.getByRole('link', { name: 'Organisations' }).click();
    await heading(page, 'Your organisations').waitFor();
    await main.getByRole('link', { name: XSS }).waitFor();
    await noInjectedImage('organisations');

    expect(dialogs).toEqual([]);
    expect(problems).toEqual([]);
  });

  it('every form control on every page visited has an accessible name', () => {
    expect([...unnamed.keys()]).toEqual(
      expect.arrayContaining(['sign-in', 'sign-up', 'admin', 'device', 'overview', 'settings']),
    );
    expect(Object.fromEntries([...unnamed].filter(([, controls]) => controls.length > 0))).toEqual(
      {},
    );
  });

  it('the main bundle (the entry chunks index.html loads) is under 300 KB gzipped', async () => {
    const html = await readFile(path.join(DIST, 'index.html'), 'utf8');
    const entries = [
      ...html.matchAll(/<script[^>]*\btype="module"[^>]*\bsrc="([^"]+\.js)"/g),
      ...html.matchAll(/<link[^>]*\brel="modulepreload"[^>]*\bhref="([^"]+\.js)"/g),
    ].map((match) => match[1]!);
    expect(entries.length).toBeGreaterThan(0);
    let gzipped = 0;
    for (const entry of new Set(entries)) {
      gzipped += gzipSync(await readFile(path.join(DIST, entry.replace(/^\//, '')))).length;
    }
    expect(gzipped).toBeLessThan(300 * 1024);
  });
});
