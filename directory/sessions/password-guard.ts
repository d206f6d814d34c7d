import { AppError } from '../../common/errors.js';
import { verifySecret } from '../../common/secret-hash.js';
import type { NewSecurityEvent } from '../security/security-events.repository.js';
import { accountKeyOf, type SignInThrottle } from './sign-in-throttle.service.js';

export interface PasswordGuardDeps {
  throttle: Pick<SignInThrottle, 'serialised' | 'retryAfterMs'>;
  securityEvents: { record(event: NewSecurityEvent): Promise<void> };
  /** Key of the keyed hash that names accounts in the security log. */
  accountHashKey: string;
}

/** Where a password check comes from: the address the throttle counts it against. */
export interface CheckClient {
  ip: string | undefined;
}

/**
 * Every check of a password goes through here, wherever it happens (sign-in, e-mail change,
 * password change, invitation acceptance), so each one counts toward the sign-in throttle and
 * the security log (P10): otherwise a route that checks the current password would be an
 * unthrottled oracle for guessing it.
 */
export class PasswordGuard {
  constructor(private readonly deps: PasswordGuardDeps) {}

  /**
   * Runs `check` for the account named by `email` once the throttle allows it: a wait is
   * TOO_MANY_ATTEMPTS (recorded as `signin_throttled`), a check that answers null is
   * INVALID_CREDENTIALS (recorded as `signin_failed`, which the throttle counts).
   */
  async attempt<T>(
    email: string,
    client: CheckClient,
    check: () => Promise<T | null>,
    knownBrowser = false,
  ): Promise<T> {
    const { deps } = this;
    const accountKey = accountKeyOf(email, deps.accountHashKey);
    const event = { accountKey, ...(client.ip ? { ip: client.ip } : {}) };
    return deps.throttle.serialised(accountKey, async () => {
      const waitMs = await deps.throttle.retryAfterMs(accountKey, client.ip, knownBrowser);
      if (waitMs > 0) {
        await deps.securityEvents.record({ type: 'signin_throttled', ...event });
        const retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000));
        throw new AppError('TOO_MANY_ATTEMPTS', { retryAfterSeconds });
      }
      const result = await check();
      if (result === null) {
        await deps.securityEvents.record({ type: 'signin_failed', ...event });
        throw new AppError('INVALID_CREDENTIALS');
      }
      return result;
    });
  }

  /**
   * Checks a signed-in or invited account's current password under the throttle; an account
   * without one (created by OpenID Connect sign-in) never passes.
   */
  async check(
    account: { email: string; passwordHash: string | null },
    password: string,
    client: CheckClient,
  ): Promise<void> {
    const { passwordHash } = account;
    await this.attempt(account.email, client, async () =>
      passwordHash !== null && (await verifySecret(password, passwordHash)) ? account : null,
    );
  }
}
