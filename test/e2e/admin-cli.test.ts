import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestMailbox, tokenIn, type TestMailbox } from '../support/smtp-catcher.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** `npm run telemoat -- …` as an operator runs it: a child process with the API's environment. */
describe('admin CLI: create-org, provision-devices', () => {
  let platform: TestPlatform;
  let mailbox: TestMailbox;
  let dir: string;

  beforeAll(async () => {
    mailbox = await startTestMailbox();
    platform = await startTestPlatform({ SMTP_URL: mailbox.url });
    dir = await mkdtemp(path.join(tmpdir(), 'telemoat-cli-'));
  });

  afterAll(async () => {
    await platform?.close();
    await mailbox?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function telemoat(...args: string[]) {
    try {
      const { stdout, stderr } = await run(
        process.execPath,
        ['--import', 'tsx', 'bin/telemoat.ts', ...args],
        { cwd: root, env: { PATH: process.env.PATH ?? '', ...platform.env, LOG_LEVEL: 'silent' } },
      );
      return { code: 0, stdout, stderr };
    } catch (err) {
      const failed = err as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  }

  async function createOrg(name: string, ownerEmail: string) {
    const result = await telemoat(
      'create-org',
      '--name',
      name,
      '--owner-email',
      ownerEmail,
      '--owner-name',
      'Ada Owner',
    );
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const id = /id\s+([0-9a-f-]{36})/.exec(result.stdout)?.[1];
    expect(id).toBeDefined();
    return { id: id!, stdout: result.stdout };
  }

  it('P6: create-org invites the first owner, who sets their own password through the link', async () => {
    const email = 'ada.owner@example.test';
    const { id, stdout } = await createOrg('Glasshouse Ltd', email);
    expect(stdout).toContain('create-org: created organisation "Glasshouse Ltd"');
    expect(stdout).toContain(`owner       ${email} (new account`);
    expect(stdout).toMatch(/invitation {2}e-mailed/);
    // No password was set: the account cannot sign in before accepting.
    const password = 'a-long-owner-passphrase';
    expect((await platform.send('POST', '/api/v1/auth/login', { email, password })).status).toBe(
      401,
    );

    const mail = await mailbox.next(email);
    expect(mail.subject).toBe('Invitation to Glasshouse Ltd on Telemoat');
    const terms = (await platform.get('/api/v1/auth/privacy-terms')).body as { version: string };
    const accepted = await platform.send('POST', '/api/v1/invitations/accept', {
      token: tokenIn(mail),
      password,
      termsVersion: terms.version,
    });
    expect(accepted.status).toBeLessThan(300);
    const token = await platform.login(email, password);
    const me = await platform.get('/api/v1/me', token);
    expect(me.body).toMatchObject({
      organisations: [{ id, name: 'Glasshouse Ltd', role: 'owner' }],
    });
  });

  it('refuses bad input with a message and no stack trace', async () => {
    const missing = await telemoat('create-org', '--name', 'No Owner');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('--owner-email: required');
    const bad = await telemoat(
      'create-org',
      '--name',
      'X',
      '--owner-email',
      'not-an-address',
      '--owner-name',
      'Y',
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('owner.email');
    expect(bad.stderr).not.toMatch(/\bat .*\.ts:\d+/);
    const unknown = await telemoat('frobnicate');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('provision-devices --org');
  });

  it('provision-devices writes the secrets only to a new 0600 file, and the devices can connect', async () => {
    const { id: orgId } = await createOrg('Fleet Farm', 'fleet.owner@example.test');
    const out = path.join(dir, 'fleet.json');
    const result = await telemoat(
      'provision-devices',
      '--org',
      orgId,
      '--count',
      '3',
      '--prefix',
      'Sensor',
      '--out',
      out,
    );
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain(`provision-devices: done; 3 devices registered`);
    const devices = JSON.parse(await readFile(out, 'utf8')) as {
      id: string;
      name: string;
      secret: string;
    }[];
    expect(devices.map((d) => d.name)).toEqual(['Sensor 1', 'Sensor 2', 'Sensor 3']);
    expect((await stat(out)).mode & 0o777).toBe(0o600);
    for (const device of devices) expect(result.stdout).not.toContain(device.secret);

    const { rows } = await platform.adminPool.query<{ n: string }>(
      'SELECT count(*) AS n FROM devices WHERE org_id = $1',
      [orgId],
    );
    expect(Number(rows[0]!.n)).toBe(3);

    const device = devices[0]!;
    const client = await mqtt.connectAsync(platform.mqttUrl, {
      clientId: device.id,
      username: device.id,
      password: device.secret,
      reconnectPeriod: 0,
      protocolVersion: 4,
    });
    await client.endAsync();
  });

  it('provision-devices writes CSV, and refuses to overwrite an existing file', async () => {
    const { id: orgId } = await createOrg('CSV Farm', 'csv.owner@example.test');
    const out = path.join(dir, 'fleet.csv');
    const ok = await telemoat('provision-devices', '--org', orgId, '--count', '2', '--out', out);
    expect(ok.code).toBe(0);
    const lines = (await readFile(out, 'utf8')).trim().split('\n');
    expect(lines[0]).toBe('id,name,secret');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/^[^,]+,Device 1,[^,]+$/);

    const taken = path.join(dir, 'taken.json');
    await writeFile(taken, 'keep me');
    const refused = await telemoat(
      'provision-devices',
      '--org',
      orgId,
      '--count',
      '2',
      '--out',
      taken,
    );
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('refusing to overwrite');
    expect(await readFile(taken, 'utf8')).toBe('keep me');
    const { rows } = await platform.adminPool.query<{ n: string }>(
      'SELECT count(*) AS n FROM devices WHERE org_id = $1',
      [orgId],
    );
    expect(Number(rows[0]!.n)).toBe(2);
  });
});
