import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiConfigSchema } from '../../api/api.config.js';
import { startApi } from '../../bin/api.js';
import { loadConfig } from '../../common/config.js';
import { createLogger } from '../../common/logger.js';
import { DataKeysRepository } from '../../directory/crypto/data-keys.repository.js';
import { runDirectoryJobs } from '../../directory/jobs/directory-jobs.js';
import { hashOneTimeToken } from '../../directory/crypto/one-time-token.js';
import { registrationField } from '../../directory/crypto/sealed-fields.js';
import { UsersRepository } from '../../directory/accounts/users.repository.js';
import { freePort } from '../../servers/free-port.js';
import { currentTerms, newAccount, signUp, signUpVerified } from '../support/accounts.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';
import { startTestMailbox, tokenIn, type TestMailbox } from '../support/smtp-catcher.js';

const browser = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0 SignupTest';

describe('sign-up with e-mail verification', () => {
  let mailbox: TestMailbox;
  let platform: TestPlatform;
  let jobsPool: pg.Pool;
  let users: UsersRepository;

  beforeAll(async () => {
    mailbox = await startTestMailbox();
    platform = await startTestPlatform({ SMTP_URL: mailbox.url });
    jobsPool = new pg.Pool({ connectionString: platform.env.JOBS_DATABASE_URL, max: 1 });
    users = new UsersRepository(platform.adminPool, platform.crypto);
  });

  afterAll(async () => {
    await jobsPool?.end();
    await platform?.close();
    await mailbox?.stop();
  });

  const verify = (token: string) => platform.send('POST', '/api/v1/auth/verify-email', { token });
  const loginStatus = async (email: string, password: string) =>
    (await platform.send('POST', '/api/v1/auth/login', { email, password })).status;

  it('P5: sign-up → verification e-mail over SMTP → verify → sign in', async () => {
    const account = newAccount('Ingrid Bergström');
    expect(await signUp(platform, account)).toEqual({
      status: 202,
      body: { status: 'email_sent' },
    });
    // Inactive until verified: the same answer as a wrong password.
    expect(await loginStatus(account.email, account.password)).toBe(401);

    const mail = await mailbox.next(account.email);
    expect(mail.subject).toBe('Confirm your e-mail address for Telemoat');
    expect(mail.to).toEqual([account.email]);
    expect(mail.text).toContain('Hello Ingrid Bergström,');
    expect(mail.text).toMatch(/\/verify-email#token=[\w-]{43}/);

    const token = tokenIn(mail);
    expect(await verify(token)).toEqual({ status: 200, body: { status: 'verified' } });
    const accessToken = await platform.login(account.email, account.password);
    const me = await platform.get('/api/v1/me', accessToken);
    expect(me).toMatchObject({
      status: 200,
      body: { name: 'Ingrid Bergström', email: account.email, phone: null, address: null },
    });

    // P5: the link works once.
    expect(await verify(token)).toMatchObject({ status: 400, body: { code: 'TOKEN_INVALID' } });
  });

  it('P5: an expired verification link is refused and the account stays inactive', async () => {
    const account = newAccount();
    await signUp(platform, account);
    const token = tokenIn(await mailbox.next(account.email));
    await platform.adminPool.query(
      "UPDATE email_verifications SET expires_at = now() - interval '1 second' WHERE token_hash = $1",
      [hashOneTimeToken(token)],
    );
    expect(await verify(token)).toMatchObject({ status: 400, body: { code: 'TOKEN_INVALID' } });
    expect(await loginStatus(account.email, account.password)).toBe(401);
    expect((await users.findByEmail(account.email))?.verified).toBe(false);
  });

  it('P5: an unknown or malformed token is refused', async () => {
    expect(await verify('A'.repeat(43))).toMatchObject({ body: { code: 'TOKEN_INVALID' } });
    expect(await verify('short')).toMatchObject({ body: { code: 'VALIDATION_FAILED' } });
  });

  it('P5: signing up with a taken address answers the same and mails the owner instead', async () => {
    const { account } = await signUpVerified(platform, mailbox);
    const again = await signUp(platform, {
      ...account,
      name: 'Someone Else',
      password: 'another-pass-1',
    });
    expect(again).toEqual({ status: 202, body: { status: 'email_sent' } });
    const mail = await mailbox.next(account.email);
    expect(mail.subject).toBe('You already have a Telemoat account');
    expect(mail.text).not.toMatch(/#token=/);
    expect(await loginStatus(account.email, 'another-pass-1')).toBe(401);
    expect(await loginStatus(account.email, account.password)).toBe(200);
    expect((await users.findByEmail(account.email))?.displayName).toBe(account.name);
  });

  it('P5: a second sign-up before verification replaces the first attempt and its link', async () => {
    // Someone else signs up with the address first; only the mailbox owner can verify.
    const squatter = newAccount('Not The Owner');
    await signUp(platform, squatter);
    const firstLink = tokenIn(await mailbox.next(squatter.email));
    const owner = { ...squatter, name: 'The Owner', password: 'owners-own-pass' };
    await signUp(platform, owner);
    const secondLink = tokenIn(await mailbox.next(owner.email));
    expect(await verify(firstLink)).toMatchObject({ body: { code: 'TOKEN_INVALID' } });
    expect(await verify(secondLink)).toMatchObject({ status: 200 });
    expect(await loginStatus(owner.email, squatter.password)).toBe(401);
    const accessToken = await platform.login(owner.email, owner.password);
    expect((await platform.get('/api/v1/me', accessToken)).body).toMatchObject({
      name: 'The Owner',
    });
  });

  it('refuses short and common passwords and unaccepted terms, before anything is stored', async () => {
    const account = newAccount();
    const terms = await currentTerms(platform);
    const attempt = (body: Record<string, unknown>) =>
      platform.send('POST', '/api/v1/auth/signup', {
        email: account.email,
        name: account.name,
        password: account.password,
        termsVersion: terms,
        ...body,
      });
    expect(await attempt({ password: 'short' })).toMatchObject({
      status: 400,
      body: { code: 'WEAK_PASSWORD', details: { reason: 'too_short' } },
    });
    expect(await attempt({ password: 'Password' })).toMatchObject({
      status: 400,
      body: { code: 'WEAK_PASSWORD', details: { reason: 'too_common' } },
    });
    expect(await attempt({ termsVersion: 'an-old-version' })).toMatchObject({
      status: 400,
      body: { code: 'TERMS_NOT_ACCEPTED', details: { currentVersion: terms } },
    });
    expect(await attempt({ termsVersion: undefined })).toMatchObject({
      body: { code: 'VALIDATION_FAILED' },
    });
    expect(await users.findByEmail(account.email)).toBeNull();
    expect(mailbox.to(account.email)).toEqual([]);
  });

  it('P4: the registration record is sealed, readable with the key, and deleted when it expires', async () => {
    const account = newAccount();
    await signUp(platform, account, { 'user-agent': browser });
    await mailbox.next(account.email);
    const user = (await users.findByEmail(account.email))!;
    const { rows } = await platform.adminPool.query<{
      ip_ciphertext: Buffer;
      user_agent_ciphertext: Buffer;
      days: number;
    }>(
      `SELECT ip_ciphertext, user_agent_ciphertext,
         round(extract(epoch FROM expires_at - registered_at) / 86400)::int AS days
       FROM registrations WHERE user_id = $1`,
      [user.id],
    );
    const record = rows[0]!;
    expect(record.days).toBe(30);
    expect(record.user_agent_ciphertext.toString('latin1')).not.toContain('Firefox');
    const key = (await users.dataKey(user.id))!;
    expect(key.open(registrationField(user.id, 'user_agent'), record.user_agent_ciphertext)).toBe(
      browser,
    );
    expect(key.open(registrationField(user.id, 'ip'), record.ip_ciphertext)).toBe('127.0.0.1');

    // The jobs leave a live record alone and delete it once expired; the account stays.
    await runDirectoryJobs(jobsPool);
    const count = async () =>
      (await platform.adminPool.query('SELECT 1 FROM registrations WHERE user_id = $1', [user.id]))
        .rowCount;
    expect(await count()).toBe(1);
    await platform.adminPool.query(
      "UPDATE registrations SET expires_at = now() - interval '1 second' WHERE user_id = $1",
      [user.id],
    );
    expect((await runDirectoryJobs(jobsPool)).registrations).toBeGreaterThanOrEqual(1);
    expect(await count()).toBe(0);
    expect(await users.findByEmail(account.email)).not.toBeNull();
  });

  it('P5: a sign-up never verified is deleted with its data key once its link has expired', async () => {
    const account = newAccount();
    await signUp(platform, account);
    await mailbox.next(account.email);
    const user = (await users.findByEmail(account.email))!;
    const { rows } = await platform.adminPool.query<{ data_key_id: string }>(
      'SELECT data_key_id FROM users WHERE id = $1',
      [user.id],
    );
    const dataKeyId = rows[0]!.data_key_id;
    await runDirectoryJobs(jobsPool);
    expect(await users.findByEmail(account.email)).not.toBeNull();

    await platform.adminPool.query(
      "UPDATE email_verifications SET expires_at = now() - interval '1 second' WHERE user_id = $1",
      [user.id],
    );
    await runDirectoryJobs(jobsPool);
    expect(await users.findByEmail(account.email)).toBeNull();
    const keys = new DataKeysRepository(platform.adminPool, platform.crypto.keyring);
    expect(await keys.loadOne(dataKeyId)).toBeNull();
    const left = await platform.adminPool.query<{ n: string }>(
      'SELECT (SELECT count(*) FROM registrations WHERE user_id = $1) + (SELECT count(*) FROM audit_log WHERE user_id = $1) AS n',
      [user.id],
    );
    expect(Number(left.rows[0]!.n)).toBe(0);
  });

  it('answers 503 while the mail server is unreachable; signing up again then works', async () => {
    const closedPort = await freePort();
    const config = loadConfig('api', apiConfigSchema, {
      ...platform.env,
      API_PORT: '0',
      SMTP_URL: `smtp://127.0.0.1:${closedPort}`,
    });
    const api = await startApi(config, createLogger({ name: 'test', level: 'silent' }));
    const account = newAccount();
    try {
      const response = await fetch(`http://127.0.0.1:${api.port}/api/v1/auth/signup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          email: account.email,
          name: account.name,
          password: account.password,
          termsVersion: await currentTerms(platform),
        }),
      });
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    } finally {
      await api.close();
    }
    expect((await signUp(platform, account)).status).toBe(202);
    expect(await verify(tokenIn(await mailbox.next(account.email)))).toMatchObject({
      status: 200,
    });
    expect(await loginStatus(account.email, account.password)).toBe(200);
  });
});
