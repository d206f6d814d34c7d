import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { DeviceIdentity } from '../ingest/ingest.pipeline.js';
import type { ConnectThrottle } from './connect-throttle.js';

/** What the broker needs to know about a device's credentials; the directory provides it. */
export interface StoredCredentials {
  deviceId: string;
  secretHash: string;
  deviceKey: string;
  tenantKey: string;
  active: boolean;
}

export interface CredentialLookup {
  find(deviceId: string): Promise<StoredCredentials | null>;
  findMany(deviceIds: readonly string[]): Promise<StoredCredentials[]>;
}

/** Why the directory refused a device; remembered for a while by the negative cache. */
export type Refusal = 'unknown' | 'disabled' | 'bad-secret';

export type AuthOutcome =
  | { ok: true; identity: DeviceIdentity; source: 'directory' | 'cache' | 'stale-cache' }
  | { ok: false; reason: Refusal; source: 'directory' | 'negative-cache' }
  /**
   * Not asked: the directory is unreachable, too many lookups are in flight (`busy`), or the
   * address has failed too often (`throttled`). The device should come back later.
   */
  | { ok: false; reason: 'unavailable' | 'busy' | 'throttled' };

export interface DeviceAuthenticatorOptions {
  credentials: CredentialLookup;
  verifySecret: (secret: string, hash: string) => Promise<boolean>;
  /** A cached success younger than this is trusted without asking the directory. */
  freshMs: number;
  /** While the directory is unreachable, a cached success younger than this still counts. */
  staleMs: number;
  /** How long a refusal by the directory is repeated without asking it again. */
  negativeTtlMs: number;
  /** Refusals remembered at most; past it the oldest is forgotten. */
  negativeMaxEntries?: number;
  /** Directory lookups in flight at most; a CONNECT past it is not looked up. */
  maxLookups: number;
  /** Failed CONNECTs per client address. */
  throttle: Pick<ConnectThrottle, 'throttled' | 'charge'>;
  now?: () => number;
}

interface CacheEntry {
  /** A keyed digest of the secret, so the cache never holds a secret itself. */
  secretDigest: Buffer;
  /** The stored hash the secret was verified against; a rotation changes it. */
  secretHash: string;
  identity: DeviceIdentity;
  checkedAt: number;
  /** The trust generation it was checked in; `distrust()` starts a new one. */
  generation: number;
}

/** One CONNECT on its way through the steps: each fills in what the next ones read. */
interface Attempt {
  readonly deviceId: string;
  readonly secret: string;
  readonly address: string;
  readonly digest: Buffer;
  /** The cached success for this very secret, if any. */
  readonly cached: CacheEntry | undefined;
  stored: StoredCredentials | null;
}

type AuthStep = (attempt: Attempt) => AuthOutcome | undefined | Promise<AuthOutcome | undefined>;

/** Revocations remembered for lookups in flight; far more than can happen during one lookup. */
const REVOCATIONS_KEPT = 10_000;

/**
 * Authenticates devices against the directory with caches in front. The positive cache lets
 * known devices reconnect through a Postgres outage and spares the hash on reconnect storms;
 * the negative cache repeats a refusal for a while, so a device retrying with a wrong secret,
 * or a flood of made-up ids, costs the directory one lookup instead of one per CONNECT. Lookups
 * in flight are bounded and failures are throttled per address, so a flood can neither queue
 * without end in front of Postgres nor keep a known device out: when a CONNECT may not be looked
 * up, a cached success still admits the device. `revoke` (a change the directory announced) and
 * `revalidate` (the periodic re-check) take devices out of the cache.
 */
export function createDeviceAuthenticator(options: DeviceAuthenticatorOptions) {
  const now = options.now ?? Date.now;
  const cache = new Map<string, CacheEntry>();
  const refusals = createRefusalCache(
    options.negativeTtlMs,
    options.negativeMaxEntries ?? 10_000,
    now,
  );
  const digestKey = randomBytes(32);
  const digest = (secret: string) => createHmac('sha256', digestKey).update(secret).digest();
  let generation = 0;
  let lookups = 0;
  /** Counts revocations; a lookup that saw the count change for its device may predate one. */
  let revocationCount = 0;
  const revokedAt = new Map<string, number>();

  // An unknown or disabled device is refused under its id, whatever the secret; a wrong secret
  // under id and secret, so someone guessing a real device's secret cannot keep the device out.
  const secretKey = (attempt: Attempt) => `${attempt.deviceId}\n${attempt.digest.toString('hex')}`;

  function cachedMatch(deviceId: string, secretDigest: Buffer): CacheEntry | undefined {
    const entry = cache.get(deviceId);
    return entry && timingSafeEqual(entry.secretDigest, secretDigest) ? entry : undefined;
  }

  function fromStaleCache({ cached }: Attempt): AuthOutcome | undefined {
    return cached && now() - cached.checkedAt < options.staleMs
      ? { ok: true, identity: cached.identity, source: 'stale-cache' }
      : undefined;
  }

  function refuse(attempt: Attempt, reason: Refusal): AuthOutcome {
    refusals.set(reason === 'bad-secret' ? secretKey(attempt) : attempt.deviceId, reason);
    options.throttle.charge(attempt.address);
    return { ok: false, reason, source: 'directory' };
  }

  // --- The steps -----------------------------------------------------------------------------

  function trustFreshCache({ cached }: Attempt): AuthOutcome | undefined {
    if (!cached || cached.generation !== generation) return undefined;
    return now() - cached.checkedAt < options.freshMs
      ? { ok: true, identity: cached.identity, source: 'cache' }
      : undefined;
  }

  function repeatRefusal(attempt: Attempt): AuthOutcome | undefined {
    const reason = refusals.get(attempt.deviceId) ?? refusals.get(secretKey(attempt));
    return reason && { ok: false, reason, source: 'negative-cache' };
  }

  function admitLookup(attempt: Attempt): AuthOutcome | undefined {
    if (options.throttle.throttled(attempt.address)) {
      return fromStaleCache(attempt) ?? { ok: false, reason: 'throttled' };
    }
    if (lookups >= options.maxLookups) {
      return fromStaleCache(attempt) ?? { ok: false, reason: 'busy' };
    }
    return undefined;
  }

  async function lookUp(attempt: Attempt): Promise<AuthOutcome | undefined> {
    const mark = revocationCount;
    lookups++;
    try {
      attempt.stored = await options.credentials.find(attempt.deviceId);
    } catch {
      return fromStaleCache(attempt) ?? { ok: false, reason: 'unavailable' };
    } finally {
      lookups--;
    }
    // The directory announces a change once it has committed it; a lookup under way meanwhile
    // may have read the row before, and must not put the old credentials back in the cache.
    if ((revokedAt.get(attempt.deviceId) ?? 0) > mark) return { ok: false, reason: 'unavailable' };
    return undefined;
  }

  function requireActive(attempt: Attempt): AuthOutcome | undefined {
    if (attempt.stored?.active) return undefined;
    cache.delete(attempt.deviceId);
    return refuse(attempt, attempt.stored ? 'disabled' : 'unknown');
  }

  async function verify(attempt: Attempt): Promise<AuthOutcome | undefined> {
    const stored = attempt.stored!;
    // Same secret against an unchanged hash: the hash would only repeat what we know.
    if (attempt.cached?.secretHash === stored.secretHash) return undefined;
    return (await options.verifySecret(attempt.secret, stored.secretHash))
      ? undefined
      : refuse(attempt, 'bad-secret');
  }

  function remember(attempt: Attempt): AuthOutcome {
    const stored = attempt.stored!;
    const identity = {
      deviceId: stored.deviceId,
      deviceKey: stored.deviceKey,
      tenantKey: stored.tenantKey,
    };
    cache.set(stored.deviceId, {
      secretDigest: attempt.digest,
      secretHash: stored.secretHash,
      identity,
      checkedAt: now(),
      generation,
    });
    return { ok: true, identity, source: 'directory' };
  }

  /** Each either answers the CONNECT or leaves it to the next; one that passes them all is in. */
  const checks: readonly AuthStep[] = [
    trustFreshCache,
    repeatRefusal,
    admitLookup,
    lookUp,
    requireActive,
    verify,
  ];

  /** `address` is the client's network address, for the throttle; it is never stored with more. */
  async function authenticate(
    deviceId: string,
    secret: string,
    address: string,
  ): Promise<AuthOutcome> {
    const secretDigest = digest(secret);
    const attempt: Attempt = {
      deviceId,
      secret,
      address,
      digest: secretDigest,
      cached: cachedMatch(deviceId, secretDigest),
      stored: null,
    };
    for (const check of checks) {
      const outcome = await check(attempt);
      if (outcome) return outcome;
    }
    return remember(attempt);
  }

  /**
   * Returns the ids among `deviceIds` that are no longer allowed: deleted, disabled, whose
   * secret was rotated, or that the cache no longer vouches for (revoked meanwhile). When the
   * directory is unreachable nobody is revoked, so an outage never disconnects a fleet.
   */
  async function revalidate(deviceIds: readonly string[]): Promise<Set<string>> {
    if (deviceIds.length === 0) return new Set();
    let current: Map<string, StoredCredentials>;
    try {
      current = new Map(
        (await options.credentials.findMany(deviceIds)).map((c) => [c.deviceId, c]),
      );
    } catch {
      return new Set();
    }
    const revoked = new Set<string>();
    for (const deviceId of deviceIds) {
      const stored = current.get(deviceId);
      const entry = cache.get(deviceId);
      if (!stored || !stored.active || !entry || entry.secretHash !== stored.secretHash) {
        revoked.add(deviceId);
        cache.delete(deviceId);
      } else {
        entry.checkedAt = now();
        entry.generation = generation;
      }
    }
    return revoked;
  }

  return {
    authenticate,
    revalidate,

    /** The directory revoked the device's credentials: nothing cached about it holds. */
    revoke(deviceId: string): void {
      cache.delete(deviceId);
      refusals.delete(deviceId);
      revokedAt.delete(deviceId);
      revokedAt.set(deviceId, ++revocationCount);
      if (revokedAt.size > REVOCATIONS_KEPT) {
        const oldest = revokedAt.keys().next();
        if (!oldest.done) revokedAt.delete(oldest.value);
      }
    },

    /** The device was enabled again: a remembered "disabled" no longer holds. */
    forgetRefusal(deviceId: string): void {
      refusals.delete(deviceId);
    },

    /**
     * Announcements may have been missed (the broker was not listening): no cached success
     * counts as fresh until the directory has confirmed it again. It still counts as stale, so
     * devices keep reconnecting through an outage.
     */
    distrust(): void {
      generation++;
    },
  };
}

export type DeviceAuthenticator = ReturnType<typeof createDeviceAuthenticator>;

/** Refusals by key until they expire, at most `maxEntries`: the oldest go first. */
function createRefusalCache(ttlMs: number, maxEntries: number, now: () => number) {
  const entries = new Map<string, { reason: Refusal; until: number }>();
  return {
    get(key: string): Refusal | undefined {
      const entry = entries.get(key);
      if (!entry) return undefined;
      if (now() < entry.until) return entry.reason;
      entries.delete(key);
      return undefined;
    },
    set(key: string, reason: Refusal): void {
      entries.delete(key);
      entries.set(key, { reason, until: now() + ttlMs });
      if (entries.size > maxEntries) {
        const oldest = entries.keys().next();
        if (!oldest.done) entries.delete(oldest.value);
      }
    },
    delete(key: string): void {
      entries.delete(key);
    },
  };
}
