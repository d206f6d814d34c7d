import { createHmac } from 'node:crypto';
import { isIPv4 } from 'node:net';
import type {
  AttemptSubject,
  FailureCount,
  FailureCounts,
} from '../security/security-events.repository.js';

export interface ThrottlePolicy {
  /** Failures older than this are forgotten. */
  windowMs: number;
  /** Failures per account from one network within the window that cost nothing. */
  freeAttemptsPerAccount: number;
  /** Failures per network within the window that cost nothing (offices share addresses). */
  freeAttemptsPerNetwork: number;
  /**
   * Failures per account from all networks together before browsers it does not recognise
   * are slowed too: a guessing attack spread over many addresses.
   */
  accountCeiling: number;
  /** The first delay once the free attempts are used; it doubles with every further failure. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface FailureCountsSource {
  failureCounts(subject: AttemptSubject, windowMs: number): Promise<FailureCounts>;
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
 * Slows sign-in (P10) so that guessing is slow but nobody elsewhere can lock the owner out:
 * failures count against the account *from the network they came from*, so an attacker's
 * failures slow only the attacker. A network that tries many accounts is slowed for all of
 * them. Only an attack on one account from many networks at once (beyond `accountCeiling`)
 * slows the account everywhere, and then not in a browser that has signed in to it before.
 * Failures live in `security_events`, so every API instance sees the same counts. Attempts on
 * one account are also serialised within this process, so a burst of parallel guesses cannot
 * all pass the check before the first failure is written.
 */
export class SignInThrottle {
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    private readonly counts: FailureCountsSource,
    private readonly policy: ThrottlePolicy,
  ) {}

  /**
   * Milliseconds until the next attempt for this account from this address may be made;
   * `knownBrowser` when the attempt carries proof of an earlier sign-in to the account.
   */
  async retryAfterMs(
    accountKey: Buffer,
    ip: string | undefined,
    knownBrowser = false,
  ): Promise<number> {
    const { policy } = this;
    const prefixLength = ip ? throttlePrefixLength(ip) : 0;
    const counts = await this.counts.failureCounts(
      { accountKey, ip, prefixLength },
      policy.windowMs,
    );
    const waits = [
      waitFor(counts.pair, policy.freeAttemptsPerAccount, policy),
      waitFor(counts.network, policy.freeAttemptsPerNetwork, policy),
      knownBrowser ? 0 : waitFor(counts.account, policy.accountCeiling, policy),
    ];
    return Math.ceil(Math.max(...waits));
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
