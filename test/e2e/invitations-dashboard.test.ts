import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentTerms } from '../support/accounts.js';
import {
  launchBrowser,
  openSession,
  unnamedFormControls,
  type TestSession,
} from '../support/browser.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';
import { startTestMailbox, tokenIn, type TestMailbox } from '../support/smtp-catcher.js';

const DIST = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'dashboard',
  'dist',
);

/**
 * P6: the organisation admin page lists pending invitations to owners and admins, with a Revoke
 * button where the viewer may revoke, in Debian's Chromium against the whole platform.
 */
describe('pending invitations in the dashboard', () => {
  let mailbox: TestMailbox;
  let platform: TestPlatform;
  let browser: Browser;
  let orgId: string;
  const sessions: TestSession[] = [];

  beforeAll(async () => {
    if (!existsSync(path.join(DIST, 'index.html'))) {
      throw new Error('dashboard/dist is missing: run `npm run build` (npm test does it first)');
    }
    mailbox = await startTestMailbox();
    [platform, browser] = await Promise.all([
      startTestPlatform({ SMTP_URL: mailbox.url }),
      launchBrowser(),
    ]);
    orgId = (await platform.createOrg('Inbjudningar AB')).id;
  });

  afterAll(async () => {
    await Promise.all(sessions.map((s) => s.close().catch(() => {})));
    await browser?.close();
    await platform?.close();
    await mailbox?.stop();
  });

  /** A browser signed in as a new member with `role`, on the organisation's admin page. */
  async function adminPageAs(role: 'owner' | 'admin' | 'member') {
    const member = await platform.createMember(orgId, role);
    const session = await openSession(browser, platform.apiUrl);
    sessions.push(session);
    const { page } = session;
    await page.goto(`/orgs/${orgId}/admin`);
    await page.getByLabel('E-mail', { exact: true }).fill(member.email);
    await page.getByLabel('Password', { exact: true }).fill(member.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Organisation admin' }).waitFor();
    await page.getByRole('heading', { name: 'Members' }).waitFor();
    return { ...session, member };
  }

  const pendingTable = (page: Page) =>
    page.getByRole('region', { name: 'Pending invitations' }).getByRole('table');

  it('P6: an owner sends an invitation, sees it pending and revokes it; its link then gives TOKEN_INVALID', async () => {
    const { page, problems } = await adminPageAs('owner');
    const section = page.getByRole('region', { name: 'Pending invitations' });
    await section.getByText('No pending invitations.').waitFor();

    const email = 'rut.revoked@example.test';
    await page.getByLabel('Name', { exact: true }).fill('Rut Återkallad');
    await page.getByLabel('E-mail', { exact: true }).fill(email);
    await page.getByRole('combobox', { name: 'Role' }).selectOption('viewer');
    await page.getByRole('button', { name: 'Send invitation' }).click();
    const row = pendingTable(page).getByRole('row').filter({ hasText: email });
    await row.waitFor();
    expect(await row.getByRole('cell').allInnerTexts()).toEqual(
      expect.arrayContaining([email, 'Viewer', 'Test User']),
    );
    const token = tokenIn(await mailbox.next(email));
    expect(await unnamedFormControls(page)).toEqual([]);

    await row.getByRole('button', { name: `Revoke the invitation of ${email}` }).click();
    const dialog = page.getByRole('dialog', { name: `Revoke the invitation of ${email}?` });
    await dialog.getByRole('button', { name: 'Revoke invitation' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await page.getByRole('status').getByText(`The invitation of ${email} was revoked.`).waitFor();
    await section.getByText('No pending invitations.').waitFor();

    const accepted = await platform.send('POST', '/api/v1/invitations/accept', {
      token,
      password: 'a-long-passphrase',
      termsVersion: await currentTerms(platform),
    });
    expect(accepted).toMatchObject({ status: 400, body: { code: 'TOKEN_INVALID' } });
    expect(problems).toEqual([]);
  });

  it("P6: an admin sees owners' invitations without a Revoke button; a plain member sees no invitations at all", async () => {
    const owner = await platform.createMember(orgId, 'owner');
    const ownerToken = await platform.login(owner.email, owner.password);
    for (const [email, role] of [
      ['olga.owner@example.test', 'owner'],
      ['maja.member@example.test', 'member'],
    ] as const) {
      const invited = await platform.send(
        'POST',
        `/api/v1/orgs/${orgId}/invitations`,
        { email, name: 'Invited', role },
        { token: ownerToken },
      );
      expect(invited.status).toBe(201);
    }

    const admin = await adminPageAs('admin');
    const table = pendingTable(admin.page);
    const ownerRow = table.getByRole('row').filter({ hasText: 'olga.owner@example.test' });
    const memberRow = table.getByRole('row').filter({ hasText: 'maja.member@example.test' });
    await ownerRow.waitFor();
    await memberRow.getByRole('button', { name: /^Revoke/ }).waitFor();
    expect(await ownerRow.getByRole('button').count()).toBe(0);
    expect(admin.problems).toEqual([]);

    const member = await adminPageAs('member');
    expect(await member.page.getByRole('heading', { name: 'Pending invitations' }).count()).toBe(0);
    expect(await member.page.getByText('olga.owner@example.test').count()).toBe(0);
    // It never asks: a member's page makes no request the API would refuse.
    expect(member.problems).toEqual([]);
  });
});
