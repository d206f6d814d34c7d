import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type { TestPlatform } from './platform.js';
import { tokenIn, type TestMailbox } from './smtp-catcher.js';

export interface TestAccount {
  email: string;
  name: string;
  password: string;
}

/** A fresh address, name and acceptable password. */
export function newAccount(name = 'Ingrid Bergström'): TestAccount {
  const id = randomBytes(4).toString('hex');
  return {
    email: `person-${id}@example.test`,
    name,
    password: `pw-${randomBytes(8).toString('hex')}`,
  };
}

/** The privacy terms version the platform currently asks for. */
export async function currentTerms(platform: TestPlatform): Promise<string> {
  const { body } = await platform.get('/api/v1/auth/privacy-terms');
  return (body as { version: string }).version;
}

/** POST /auth/signup: only the address. */
export async function signUp(
  platform: TestPlatform,
  account: Pick<TestAccount, 'email'>,
  headers: Record<string, string> = {},
) {
  return platform.send('POST', '/api/v1/auth/signup', { email: account.email }, { headers });
}

/** POST /auth/signup/complete with the link's token, the account's credentials and the terms. */
export async function completeSignUp(
  platform: TestPlatform,
  token: string,
  account: Pick<TestAccount, 'name' | 'password'>,
  settings?: { omitNamesInEmail: boolean },
) {
  return platform.send('POST', '/api/v1/auth/signup/complete', {
    token,
    name: account.name,
    password: account.password,
    termsVersion: await currentTerms(platform),
    ...(settings ? { settings } : {}),
  });
}

/** The whole sign-up: request, the link e-mailed over SMTP, completing it; returns a token. */
export async function signUpVerified(
  platform: TestPlatform,
  mailbox: TestMailbox,
  account: TestAccount = newAccount(),
): Promise<{ account: TestAccount; accessToken: string }> {
  expect((await signUp(platform, account)).status).toBe(202);
  const mail = await mailbox.next(account.email);
  const verified = await completeSignUp(platform, tokenIn(mail), account);
  expect(verified).toEqual({ status: 200, body: { status: 'verified' } });
  return { account, accessToken: await platform.login(account.email, account.password) };
}
