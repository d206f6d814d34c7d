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
import {
  completeSignUp,
  currentTerms,
  newAccount,
  signUp,
  signUpVerified,
  type TestAccount,
} from '../support/accounts.js';
import { testClock } from '../support/clock.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';
import { startTestMailbox, tokenIn, type TestMailbox } from '../support/smtp-catcher.js';

const browser = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0 SignupTest';

/** The platform's default MAILS_PER_ADDRESS_PER_HOUR. */
const QUOTA = 3;

describe('sign-up with e-mail verification', () => {
  const clock = testClock(Date.now());
  let mailbox: TestMailbox;
  let platform: TestPlatform;
  let jobsPool: pg.Pool;
  let users: UsersRepository;

  beforeAll(async () => {
    mailbox = await startTestMailbox();
    platform = await startTestPlatform({ SMTP_URL: mailbox.url }, { now: clock.now });
    jobsPool = new pg.Pool({ connectionString: platform.env.JOBS_DATABASE_URL, max: 1 });
    users = new UsersRepository(platform.adminPool, platform.crypto);
  });

  afterAll(async () => {
    await jobsPool?.end();
    await platform?.close();
    await mailbox?.stop();
  });

  const complete = (token: string, account: TestAccount) =>
    completeSignUp(platform, token, account);
  const loginStatus = async (email: string, password: string) =>
    (await platform.send('POST', '/api/v1/auth/login', { email, password })).status;
  const quotaRows = async (email: string) =>
    (
      await platform.adminPool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM mail_quota WHERE address_index = $1',
        [users.emailIndex(email)],
      )
    ).rows[0]!.n;

  it('P5: sign-up with an address → link e-mailed over SMTP → name and password chosen there → sign in', async () => {
    const account = newAccount('Ingrid Bergström');
    expect(await signUp(platform, account)).toEqual({
      status: 202,
      body: { status: 'email_sent' },
    });
    const mail = await mailbox.next(account.email);
    expect(mail.subject).toBe('Confirm your e-mail address for Telemoat');
    expect(mail.to).toEqual([account.email]);
    // Whoever typed the address is unknown, so the mail greets nobody by name.
    expect(mail.text.split('\n')[0]).toBe('Hello,');
    expect(mail.text).toMatch(/\/sign-up\/complete#token=[\w-]{43}/);
    // Nothing to sign in with until the link is used.
    expect(await loginStatus(account.email, account.password)).toBe(401);

    const token = tokenIn(mail);
    // A sign-up link is not an e-mail change link.
    expect(await platform.send('POST', '/api/v1/auth/verify-email', { token })).toMatchObject({
      status: 400,
      body: { code: 'TOKEN_INVALID' },
    });
    expect(await complete(token, account)).toEqual({ status: 200, body: { status: 'verified' } });
    const accessToken = await platform.login(account.email, account.password);
    const me = await platform.get('/api/v1/me', accessToken);
    expect(me).toMatchObject({
      status: 200,
      body: { name: 'Ingrid Bergström', email: account.email, phone: null, address: null },
    });

    // P5: the link works once.
    expect(await complete(token, { ...account, password: 'someone-elses-1' })).toMatchObject({
      status: 400,
      body: { code: 'TOKEN_INVALID' },
    });
    expect(await loginStatus(account.email, account.password)).toBe(200);
  });

  it('P5: an expired link is refused and the account stays inactive', async () => {
    const account = newAccount();
    await signUp(platform, account);
    const token = tokenIn(await mailbox.next(account.email));
    await platform.adminPool.query(
      "UPDATE email_verifications SET expires_at = now() - interval '1 second' WHERE token_hash = $1",
      [hashOneTimeToken(token)],
    );
    expect(await complete(token, account)).toMatchObject({
      status: 400,
      body: { code: 'TOKEN_INVALID' },
    });
    expect(await loginStatus(account.email, account.password)).toBe(401);
    expect((await users.findByEmail(account.email))?.verified).toBe(false);
  });

  it('P5: an unknown or malformed token is refused', async () => {
    const account = newAccount();
    expect(await complete('A'.repeat(43), account)).toMatchObject({
      body: { code: 'TOKEN_INVALID' },
    });
    expect(await complete('short', account)).toMatchObject({
      body: { code: 'VALIDATION_FAILED' },
    });
  });

  it('P5: signing up with a taken address answers the same and mails the owner instead', async () => {
    const { account } = await signUpVerified(platform, mailbox);
    expect(await signUp(platform, account)).toEqual({
      status: 202,
      body: { status: 'email_sent' },
    });
    const mail = await mailbox.next(account.email);
    expect(mail.subject).toBe('You already have a Telemoat account');
    expect(mail.text).not.toMatch(/#token=/);
    expect(await loginStatus(account.email, account.password)).toBe(200);
    expect((await users.findByEmail(account.email))?.displayName).toBe(account.name);
  });

  it('P5: a pending sign-up cannot be hijacked: a second sign-up changes nothing, every link still works, and only the link holder sets name and password', async () => {
    // Someone who does not own the mailbox signs up with the address first...
    const squatter = newAccount('Not The Owner');
    await signUp(platform, squatter);
    const firstLink = tokenIn(await mailbox.next(squatter.email));
    const before = await platform.adminPool.query(
      'SELECT name_ciphertext, password_hash FROM users WHERE email_index = $1',
      [users.emailIndex(squatter.email)],
    );
    expect(before.rows[0]).toMatchObject({ password_hash: null });
    // ...and again, as an attacker would to replace the owner's own attempt.
    await signUp(platform, squatter);
    const secondLink = tokenIn(await mailbox.next(squatter.email));
    const after = await platform.adminPool.query(
      'SELECT name_ciphertext, password_hash FROM users WHERE email_index = $1',
      [users.emailIndex(squatter.email)],
    );
    expect(after.rows).toEqual(before.rows);

    // The links went to the mailbox; its owner chooses the credentials with either one.
    const owner = { ...squatter, name: 'The Owner', password: 'owners-own-pass' };
    expect(await complete(firstLink, owner)).toMatchObject({ status: 200 });
    expect(await complete(secondLink, squatter)).toMatchObject({
      body: { code: 'TOKEN_INVALID' },
    });
    expect(await loginStatus(owner.email, squatter.password)).toBe(401);
    const accessToken = await platform.login(owner.email, owner.password);
    expect((await platform.get('/api/v1/me', accessToken)).body).toMatchObject({
      name: 'The Owner',
    });
  });

  it('refuses short and common passwords and unaccepted terms when completing, changing nothing: the link still works after', async () => {
    const account = newAccount();
    await signUp(platform, account);
    const token = tokenIn(await mailbox.next(account.email));
    const terms = await currentTerms(platform);
    const attempt = (body: Record<string, unknown>) =>
      platform.send('POST', '/api/v1/auth/signup/complete', {
        token,
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
    expect((await users.findByEmail(account.email))?.verified).toBe(false);
    expect(await attempt({})).toMatchObject({ status: 200 });
  });

  it('P5, P10: one address gets at most MAILS_PER_ADDRESS_PER_HOUR sign-up e-mails an hour, whatever it is asked; the answer never changes', async () => {
    const pending = newAccount();
    const { account: registered } = await signUpVerified(platform, mailbox);
    for (let i = 0; i < 5; i += 1) {
      expect(await signUp(platform, pending)).toEqual({
        status: 202,
        body: { status: 'email_sent' },
      });
      expect(await signUp(platform, registered)).toEqual({
        status: 202,
        body: { status: 'email_sent' },
      });
    }
    expect(await quotaRows(pending.email)).toBe(QUOTA);
    // Its own sign-up took one of the hour's e-mails; "you already have an account" the rest.
    expect(await quotaRows(registered.email)).toBe(QUOTA);
    for (let i = 1; i < QUOTA; i += 1) {
      expect((await mailbox.next(registered.email)).subject).toBe(
        'You already have a Telemoat account',
      );
    }
    for (let i = 0; i < QUOTA; i += 1) await mailbox.next(pending.email);
    // An hour later the address may get another.
    clock.advance(3_600_001);
    await signUp(platform, pending);
    await mailbox.next(pending.email);
    expect(await quotaRows(pending.email)).toBe(QUOTA + 1);
    expect(mailbox.to(pending.email)).toHaveLength(QUOTA + 1);
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
        body: JSON.stringify({ email: account.email }),
      });
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    } finally {
      await api.close();
    }
    expect((await signUp(platform, account)).status).toBe(202);
    expect(await complete(tokenIn(await mailbox.next(account.email)), account)).toMatchObject({
      status: 200,
    });
    expect(await loginStatus(account.email, account.password)).toBe(200);
  });
});
