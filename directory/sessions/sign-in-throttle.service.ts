import { createHmac } from 'node:crypto';
import { isIPv4 } from 'node:net';
import type { FailureCount } from '../security/security-events.repository.js';

export interface ThrottlePolicy {
  /** Failures older than this are forgotten. */
  windowMs: number;
  /** Failures per account within the window that cost nothing. */
  freeAttemptsPerAccount: number;
  /** Failures per network within the window that cost nothing (offices share addresses). */
  freeAttemptsPerNetwork: number;
  /** The first delay once the free attempts are used; it doubles with every further failure. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface FailureCounts {
  accountFailures(accountKey: Buffer, windowMs: number): Promise<FailureCount>;
  networkFailures(ip: string, prefixLength: number, windowMs: number): Promise<FailureCount>;
}

/**
 * How long after the latest failure the next attempt must wait: nothing for the free
 * attempts, then `base`, `2·base`, `4·base`… up to `max`. Never forever, so an attacker cannot
 * lock the owner out: once the window passes without failures the count is zero again.
 */
export function delayAfter(
  failures: number,
  free: number,
  policy: Pick<ThrottlePolicy, 'baseDelayMs' | 'maxDelayMs'>,
): number {
  if (failures < free) return 0;
  const doublings = Math.min(failures - free, 30);
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** doublings);
}

/** The time still to wait, given a count; 0 when an attempt may go ahead. */
function waitFor(count: FailureCount, free: number, policy: ThrottlePolicy): number {
  if (count.sinceLastMs === null) return 0;
  return Math.max(0, delayAfter(count.failures, free, policy) - count.sinceLastMs);
}

/**
 * Slows sign-in per account and per network (P10). Failures live in `security_events`, so
 * every API instance sees the same counts. Attempts on one account are also serialised within
 * this process, so a burst of parallel guesses cannot all pass the check before the first
 * failure is written.
 */
export class SignInThrottle {
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    private readonly counts: FailureCounts,
    private readonly policy: ThrottlePolicy,
  ) {}

  /** Milliseconds until the next attempt for this account from this address may be made. */
  async retryAfterMs(accountKey: Buffer, ip: string | undefined): Promise<number> {
    const { policy } = this;
    const [account, network] = await Promise.all([
      this.counts.accountFailures(accountKey, policy.windowMs),
      ip
        ? this.counts.networkFailures(ip, throttlePrefixLength(ip), policy.windowMs)
        : Promise.resolve({ failures: 0, sinceLastMs: null }),
    ]);
    return Math.ceil(
      Math.max(
        waitFor(account, policy.freeAttemptsPerAccount, policy),
        waitFor(network, policy.freeAttemptsPerNetwork, policy),
      ),
    );
  }

  /** Runs `attempt` after every earlier attempt on the same account in this process. */
  async serialised<T>(accountKey: Buffer, attempt: () => Promise<T>): Promise<T> {
    const key = accountKey.toString('hex');
    const previous = this.queues.get(key) ?? Promise.resolve();
    const current = previous.then(attempt, attempt);
    const settled = current.catch(() => undefined);
    this.queues.set(key, settled);
    try {
      return await current;
    } finally {
      if (this.queues.get(key) === settled) this.queues.delete(key);
    }
  }
}

/**
 * A keyed hash of an e-mail address (HMAC-SHA-256 of its trimmed, lower-cased NFC form): it
 * groups attempts on one account without the address ever reaching the security log, and
 * without a key it cannot be reversed by hashing guessed addresses.
 */
export function accountKeyOf(email: string, key: string): Buffer {
  return createHmac('sha256', key).update(email.trim().normalize('NFC').toLowerCase()).digest();
}

/** How many leading bits name the network an attacker controls as a whole. */
export function throttlePrefixLength(ip: string): number {
  return isIPv4(ip) ? 32 : 64;
}
