import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiConfigSchema } from '../../api/api.config.js';
import { startApi } from '../../bin/api.js';
import { loadConfig } from '../../common/config.js';
import { createLogger } from '../../common/logger.js';
import { directoryCryptoFrom } from '../../directory/crypto/crypto.config.js';
import { CipherError } from '../../directory/crypto/field-cipher.js';
import { UnknownMasterKeyError } from '../../directory/crypto/master-keyring.js';
import { OrganisationsRepository } from '../../directory/organisations/organisations.repository.js';
import { UsersRepository } from '../../directory/accounts/users.repository.js';
import { locateBinDir, postgresBinaries, realHost } from '../../servers/binaries.js';
import { newAccount, completeSignUp, signUp } from '../support/accounts.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';
import { startTestMailbox, tokenIn, type TestMailbox } from '../support/smtp-catcher.js';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const browser = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 DumpTest/7.3';

/** Every personal value the test stores, and where it may not appear. */
const person = {
  name: 'Ingrid Bergström',
  email: `ingrid.${randomBytes(3).toString('hex')}@example.test`,
  password: 'a-long-and-unusual-password',
  phone: '+46 70 987 65 43',
  address: 'Hemliga gatan 17\n114 51 Stockholm',
};
const company = { name: 'Bergströms Växthus AB', address: 'Odlarvägen 3, 123 45 Odlingby' };
const invitee = {
  name: 'Olof Invitesson',
  email: `olof.${randomBytes(3).toString('hex')}@example.test`,
};

describe('P1, P12, P21: the directory stores personal values only encrypted', () => {
  let mailbox: TestMailbox;
  let platform: TestPlatform;
  let accessToken: string;
  let orgId: string;

  beforeAll(async () => {
    mailbox = await startTestMailbox();
    platform = await startTestPlatform({ SMTP_URL: mailbox.url });
    // Through the API, as a person would: sign-up (with a browser string), verification,
    // profile, an organisation with an address, and an invitation for someone else.
    await signUp(platform, { ...person }, { 'user-agent': browser });
    await completeSignUp(platform, tokenIn(await mailbox.next(person.email)), person);
    accessToken = await platform.login(person.email, person.password);
    await platform.send(
      'PATCH',
      '/api/v1/me',
      { phone: person.phone, address: person.address },
      { token: accessToken },
    );
    const org = await platform.send('POST', '/api/v1/orgs', company, { token: accessToken });
    orgId = (org.body as { id: string }).id;
    await platform.send(
      'POST',
      `/api/v1/orgs/${orgId}/invitations`,
      { email: invitee.email, name: invitee.name, role: 'viewer' },
      { token: accessToken },
    );
    await mailbox.next(invitee.email);
  });

  afterAll(async () => {
    await platform?.close();
    await mailbox?.stop();
  });

  /** A value and the ways it could be stored without encryption: text, and bytes as hex. */
  function forms(value: string): string[] {
    const parts = value.split('\n');
    return [...parts, ...parts.map((p) => Buffer.from(p, 'utf8').toString('hex'))];
  }

  const personal = [
    ...Object.entries(person)
      .filter(([key]) => key !== 'password')
      .map(([, value]) => value),
    ...Object.values(company),
    ...Object.values(invitee),
    browser,
    'DumpTest',
  ];

  it('P1, P12: SELECT * of every table holds no plaintext name, e-mail, phone, address, IP or browser', async () => {
    const { rows: tables } = await platform.adminPool.query<{ schema: string; name: string }>(
      `SELECT table_schema AS schema, table_name AS name FROM information_schema.tables
       WHERE table_schema IN ('public', 'broker') ORDER BY 1, 2`,
    );
    expect(tables.map((t) => t.name)).toEqual(
      expect.arrayContaining(['users', 'organisations', 'data_keys', 'registrations', 'audit_log']),
    );
    let rowsSeen = 0;
    let everything = '';
    for (const table of tables) {
      const id = `${table.schema}.${table.name}`;
      const all = await platform.adminPool.query(`SELECT * FROM ${id}`);
      const text = await platform.adminPool.query<{ row: string }>(
        `SELECT t::text AS row FROM ${id} t`,
      );
      rowsSeen += all.rowCount ?? 0;
      // bytea comes back as Buffers: look at them as text as well as hex.
      const values = all.rows.flatMap((row: Record<string, unknown>) => Object.values(row));
      const dump = [
        JSON.stringify(all.rows),
        ...values.flatMap((v) =>
          Buffer.isBuffer(v) ? [v.toString('utf8'), v.toString('latin1'), v.toString('hex')] : [],
        ),
        ...text.rows.map((r) => r.row),
      ].join('\n');
      everything += dump;
      for (const value of personal.flatMap(forms)) {
        expect(dump.includes(value), `${value} in ${id}`).toBe(false);
      }
      // P10 keeps sign-in IP addresses for a short time in the security log, by design.
      if (table.name !== 'security_events') {
        expect(dump.includes('127.0.0.1'), `IP address in ${id}`).toBe(false);
      }
    }
    expect(rowsSeen).toBeGreaterThan(10);
    // The dump does show what is stored in plaintext on purpose (proof it can see text).
    expect(everything).toContain('002_identity.sql');
  });

  it('P1, P12: neither does pg_dump of the whole database', async () => {
    const binDir = locateBinDir(postgresBinaries, realHost());
    const pgDump = binDir && path.join(binDir, 'pg_dump');
    if (!pgDump || !existsSync(pgDump)) return; // an external server without local binaries
    const { stdout } = await run(pgDump, ['--data-only', '--dbname', platform.env.DATABASE_URL!], {
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(stdout).toContain('COPY public.users');
    expect(stdout).toContain('002_identity.sql');
    for (const value of personal.flatMap(forms)) {
      expect(stdout.includes(value), value).toBe(false);
    }
  });

  it('P12: a ciphertext moved to another row or column does not open', async () => {
    const users = new UsersRepository(platform.adminPool, platform.crypto);
    const me = (await users.findByEmail(person.email))!;
    const other = (await users.findByEmail(invitee.email))!;
    await platform.adminPool.query('BEGIN');
    try {
      // Same key, other column: the name column now holds the phone's ciphertext.
      await platform.adminPool.query(
        'UPDATE users SET name_ciphertext = phone_ciphertext WHERE id = $1',
        [me.id],
      );
      await expect(users.profile(me.id)).rejects.toThrow(CipherError);
    } finally {
      await platform.adminPool.query('ROLLBACK');
    }
    // Another person's e-mail ciphertext and key in this row: bound to the other row.
    const swapped = await platform.adminPool.connect();
    try {
      await swapped.query('BEGIN');
      await swapped.query(
        `UPDATE users SET (email_ciphertext, data_key_id) =
           (SELECT email_ciphertext, data_key_id FROM users WHERE id = $2) WHERE id = $1`,
        [me.id, other.id],
      );
      await expect(new UsersRepository(swapped, platform.crypto).findById(me.id)).rejects.toThrow(
        CipherError,
      );
    } finally {
      await swapped.query('ROLLBACK');
      swapped.release();
    }
    expect((await users.profile(me.id))?.name).toBe(person.name);
  });

  it('P21: the jobs role cannot read password hashes, personal values or data keys', async () => {
    const jobs = new pg.Pool({ connectionString: platform.env.JOBS_DATABASE_URL, max: 1 });
    const api = new pg.Pool({ connectionString: platform.env.API_DATABASE_URL, max: 1 });
    const broker = new pg.Pool({ connectionString: platform.env.BROKER_DATABASE_URL, max: 1 });
    try {
      for (const sql of [
        'SELECT password_hash FROM users',
        'SELECT email_ciphertext FROM users',
        'SELECT name_ciphertext FROM users',
        'SELECT * FROM users',
        'SELECT wrapped_key FROM data_keys',
        'SELECT ip_ciphertext FROM registrations',
        'SELECT new_email_ciphertext FROM email_verifications',
        'SELECT * FROM audit_log',
        'SELECT name_ciphertext FROM organisations',
        "UPDATE users SET password_hash = 'x'",
        // Deleting an account cascades to its memberships without the jobs role's rights.
        'SELECT * FROM memberships',
        'DELETE FROM memberships',
        'SELECT address_index FROM mail_quota',
      ]) {
        await expect(jobs.query(sql), sql).rejects.toThrow(/permission denied/);
      }
      // What the jobs do need: ids and timestamps.
      await expect(jobs.query('SELECT id, created_at FROM users')).resolves.toBeDefined();
      // The API may re-wrap data keys but not delete them, nor rewrite the audit history, nor
      // read back registration records.
      for (const sql of [
        'DELETE FROM data_keys',
        "UPDATE audit_log SET action = 'x'",
        'DELETE FROM audit_log',
        'SELECT * FROM registrations',
      ]) {
        await expect(api.query(sql), sql).rejects.toThrow(/permission denied/);
      }
      for (const table of ['data_keys', 'registrations', 'audit_log', 'invitations']) {
        await expect(broker.query(`SELECT * FROM public.${table}`), table).rejects.toThrow(
          /permission denied/,
        );
      }
    } finally {
      await Promise.all([jobs.end(), api.end(), broker.end()]);
    }
  });

  // Last: afterwards the running API (which holds only the old key) can no longer read.
  it('P12: add a master key, rotate, remove the old key: every record is still readable', async () => {
    const oldKeys = platform.env.DIRECTORY_MASTER_KEYS!;
    const newKey = `k2:${randomBytes(32).toString('base64')}`;
    // Enough other data keys for several batches.
    for (let i = 0; i < 3; i++) await signUp(platform, newAccount(`Filler ${i}`));
    const { rows: before } = await platform.adminPool.query<{ n: string }>(
      "SELECT count(*) AS n FROM data_keys WHERE master_key_id = 'local'",
    );
    const total = Number(before[0]!.n);
    expect(total).toBeGreaterThan(5);

    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'bin/telemoat.ts', 'rotate-keys', '--batch-size=2'],
      {
        cwd: root,
        env: {
          PATH: process.env.PATH ?? '',
          API_DATABASE_URL: platform.env.API_DATABASE_URL,
          DIRECTORY_MASTER_KEYS: `${oldKeys},${newKey}`,
          DIRECTORY_ACTIVE_KEY_ID: 'k2',
        },
      },
    );
    expect(stdout).toContain(
      `rotate-keys: ${total} data keys to re-wrap under "k2" (local: ${total})`,
    );
    expect(stdout).toContain(`rotate-keys: 2/${total} re-wrapped`);
    expect(stdout).toContain(`rotate-keys: ${total}/${total} re-wrapped`);
    expect(stdout).toContain('rotate-keys: done');
    const { rows: after } = await platform.adminPool.query<{ master_key_id: string; n: string }>(
      'SELECT master_key_id, count(*) AS n FROM data_keys WHERE rotated_at IS NOT NULL GROUP BY 1',
    );
    expect(after).toEqual([{ master_key_id: 'k2', n: String(total) }]);

    // The old key removed from config: every user and organisation still opens.
    const env = {
      ...platform.env,
      DIRECTORY_MASTER_KEYS: newKey,
      DIRECTORY_ACTIVE_KEY_ID: 'k2',
      API_PORT: '0',
    };
    const config = loadConfig('api', apiConfigSchema, env);
    const crypto = directoryCryptoFrom(config);
    const users = new UsersRepository(platform.adminPool, crypto);
    const { rows: ids } = await platform.adminPool.query<{ id: string }>('SELECT id FROM users');
    expect((await users.profiles(ids.map((r) => r.id))).size).toBe(ids.length);
    expect((await new OrganisationsRepository(platform.adminPool, crypto).find(orgId))?.name).toBe(
      company.name,
    );
    // ...and the old key alone no longer does.
    const oldOnly = directoryCryptoFrom(
      loadConfig('api', apiConfigSchema, { ...platform.env, DIRECTORY_ACTIVE_KEY_ID: 'local' }),
    );
    await expect(
      new UsersRepository(platform.adminPool, oldOnly).findByEmail(person.email),
    ).rejects.toThrow(UnknownMasterKeyError);

    // An API started with only the new key serves the person everything, decrypted.
    const api = await startApi(config, createLogger({ name: 'test', level: 'silent' }));
    try {
      const url = `http://127.0.0.1:${api.port}/api/v1`;
      const login = await fetch(`${url}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: person.email, password: person.password }),
      });
      const { accessToken: token } = (await login.json()) as { accessToken: string };
      const me = await fetch(`${url}/me`, { headers: { authorization: `Bearer ${token}` } });
      expect(await me.json()).toMatchObject({
        name: person.name,
        email: person.email,
        phone: person.phone,
        address: person.address,
        organisations: [{ id: orgId, name: company.name, role: 'owner' }],
      });
    } finally {
      await api.close();
    }
  });
});
