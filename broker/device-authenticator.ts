import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { DeviceIdentity } from '../ingest/ingest.pipeline.js';

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

export type AuthOutcome =
  | { ok: true; identity: DeviceIdentity; source: 'directory' | 'cache' | 'stale-cache' }
  | { ok: false; reason: 'unknown' | 'disabled' | 'bad-secret' | 'unavailable' };

export interface DeviceAuthenticatorOptions {
  credentials: CredentialLookup;
  verifySecret: (secret: string, hash: string) => Promise<boolean>;
  /** A cached success younger than this is trusted without asking the directory. */
  freshMs: number;
  /** While the directory is unreachable, a cached success younger than this still counts. */
  staleMs: number;
  now?: () => number;
}

interface CacheEntry {
  /** A keyed digest of the secret, so the cache never holds a secret itself. */
  secretDigest: Buffer;
  /** The stored hash the secret was verified against; a rotation changes it. */
  secretHash: string;
  identity: DeviceIdentity;
  checkedAt: number;
}

/**
 * Authenticates devices against the directory with a cache in front. The cache lets known
 * devices reconnect through a Postgres outage and spares the slow hash on reconnect storms;
 * `revalidate` lets the broker drop revoked devices within seconds.
 */
export function createDeviceAuthenticator(options: DeviceAuthenticatorOptions) {
  const now = options.now ?? Date.now;
  const cache = new Map<string, CacheEntry>();
  const digestKey = randomBytes(32);
  const digest = (secret: string) => createHmac('sha256', digestKey).update(secret).digest();

  function cachedMatch(deviceId: string, secret: string): CacheEntry | undefined {
    const entry = cache.get(deviceId);
    return entry && timingSafeEqual(entry.secretDigest, digest(secret)) ? entry : undefined;
  }

  function remember(secret: string, stored: StoredCredentials): DeviceIdentity {
    const identity = {
      deviceId: stored.deviceId,
      deviceKey: stored.deviceKey,
      tenantKey: stored.tenantKey,
    };
    cache.set(stored.deviceId, {
      secretDigest: digest(secret),
      secretHash: stored.secretHash,
      identity,
      checkedAt: now(),
    });
    return identity;
  }

  async function authenticate(deviceId: string, secret: string): Promise<AuthOutcome> {
    const cached = cachedMatch(deviceId, secret);
    if (cached && now() - cached.checkedAt < options.freshMs) {
      return { ok: true, identity: cached.identity, source: 'cache' };
    }
    let stored: StoredCredentials | null;
    try {
      stored = await options.credentials.find(deviceId);
    } catch {
      return cached && now() - cached.checkedAt < options.staleMs
        ? { ok: true, identity: cached.identity, source: 'stale-cache' }
        : { ok: false, reason: 'unavailable' };
    }
    if (!stored || !stored.active) {
      cache.delete(deviceId);
      return { ok: false, reason: stored ? 'disabled' : 'unknown' };
    }
    // Same secret against an unchanged hash: the slow hash would only repeat what we know.
    const known = cached?.secretHash === stored.secretHash;
    if (!known && !(await options.verifySecret(secret, stored.secretHash))) {
      return { ok: false, reason: 'bad-secret' };
    }
    return { ok: true, identity: remember(secret, stored), source: 'directory' };
  }

  /**
   * Returns the ids among `deviceIds` that are no longer allowed: deleted, disabled, or whose
   * secret was rotated. When the directory is unreachable nobody is revoked, so an outage
   * never disconnects a fleet.
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
      if (!stored || !stored.active || (entry && entry.secretHash !== stored.secretHash)) {
        revoked.add(deviceId);
        cache.delete(deviceId);
      } else if (entry) {
        entry.checkedAt = now();
      }
    }
    return revoked;
  }

  return { authenticate, revalidate };
}

export type DeviceAuthenticator = ReturnType<typeof createDeviceAuthenticator>;
