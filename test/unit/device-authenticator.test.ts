import { describe, expect, it } from 'vitest';
import { createConnectThrottle } from '../../broker/connect-throttle.js';
import {
  createDeviceAuthenticator,
  type CredentialLookup,
  type StoredCredentials,
} from '../../broker/device-authenticator.js';
import { testClock } from '../support/clock.js';

const stored: StoredCredentials = {
  deviceId: 'dev_a',
  secretHash: 'hash-of-right',
  deviceKey: 'a'.repeat(32),
  tenantKey: 'b'.repeat(32),
  active: true,
};

/**
 * A directory stand-in whose contents, availability and call count the test controls. While
 * `held` is set, lookups wait until the test releases them, as behind a stalled Postgres.
 */
function fakeDirectory() {
  const state = {
    rows: new Map([[stored.deviceId, { ...stored }]]),
    down: false,
    held: false,
    waiting: [] as (() => void)[],
    lookups: 0,
    hashes: 0,
  };
  const release = () => state.waiting.splice(0).forEach((go) => go());
  const lookup: CredentialLookup = {
    find: async (id) => {
      state.lookups++;
      if (state.held) await new Promise<void>((resolve) => state.waiting.push(resolve));
      if (state.down) throw new Error('ECONNREFUSED');
      return state.rows.get(id) ?? null;
    },
    findMany: (ids) => {
      state.lookups++;
      if (state.down) return Promise.reject(new Error('ECONNREFUSED'));
      return Promise.resolve(
        ids.flatMap((id) => (state.rows.has(id) ? [state.rows.get(id)!] : [])),
      );
    },
  };
  const verifySecret = (secret: string, hash: string) => {
    state.hashes++;
    return Promise.resolve(hash === `hash-of-${secret}`);
  };
  return { state, lookup, verifySecret, release };
}

const ADDRESS = '192.0.2.10';

function setup(
  limits: { maxLookups?: number; failuresPerMinute?: number; negativeMax?: number } = {},
) {
  const directory = fakeDirectory();
  const clock = testClock(1_000_000);
  const throttle = createConnectThrottle({
    failuresPerMinute: limits.failuresPerMinute ?? 1000,
    now: clock.now,
  });
  const auth = createDeviceAuthenticator({
    credentials: directory.lookup,
    verifySecret: directory.verifySecret,
    freshMs: 5_000,
    staleMs: 60_000,
    negativeTtlMs: 10_000,
    negativeMaxEntries: limits.negativeMax ?? 100,
    maxLookups: limits.maxLookups ?? 10,
    throttle,
    now: clock.now,
  });
  const authenticate = (id: string, secret: string, address = ADDRESS) =>
    auth.authenticate(id, secret, address);
  return {
    auth,
    authenticate,
    state: directory.state,
    release: directory.release,
    advance: clock.advance,
  };
}

/** Lets pending promise callbacks run (the fake directory answers a tick later). */
/** A refusal with the reason and the place that decided it. */
const refused = (reason: string, source: string) => ({ ok: false, reason, source });

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('device authenticator', () => {
  it('accepts the right secret and refuses a wrong one, an unknown and a disabled device', async () => {
    const { authenticate, state, advance } = setup();
    expect(await authenticate('dev_a', 'right')).toMatchObject({
      ok: true,
      source: 'directory',
      identity: { deviceId: 'dev_a', deviceKey: stored.deviceKey, tenantKey: stored.tenantKey },
    });
    expect(await authenticate('dev_a', 'wrong')).toEqual(refused('bad-secret', 'directory'));
    expect(await authenticate('dev_x', 'right')).toEqual(refused('unknown', 'directory'));
    state.rows.get('dev_a')!.active = false;
    // Within the fresh window the cache still answers; revocation takes effect after it.
    expect((await authenticate('dev_a', 'right')).ok).toBe(true);
    advance(5_000);
    expect(await authenticate('dev_a', 'right')).toEqual(refused('disabled', 'directory'));
  });

  it('trusts a fresh cached success without the directory, and skips the slow hash on re-checks', async () => {
    const { authenticate, state, advance } = setup();
    await authenticate('dev_a', 'right');
    expect(await authenticate('dev_a', 'right')).toMatchObject({ ok: true, source: 'cache' });
    expect(state.lookups).toBe(1);
    advance(6_000);
    expect(await authenticate('dev_a', 'right')).toMatchObject({
      ok: true,
      source: 'directory',
    });
    expect(state.lookups).toBe(2);
    expect(state.hashes).toBe(1);
  });

  it('never lets the cache accept a different secret', async () => {
    const { authenticate } = setup();
    await authenticate('dev_a', 'right');
    expect(await authenticate('dev_a', 'wrong')).toEqual(refused('bad-secret', 'directory'));
  });

  it('lets known devices in through a directory outage, until the stale limit', async () => {
    const { authenticate, state, advance } = setup();
    await authenticate('dev_a', 'right');
    state.down = true;
    advance(30_000);
    expect(await authenticate('dev_a', 'right')).toMatchObject({
      ok: true,
      source: 'stale-cache',
    });
    expect(await authenticate('dev_a', 'wrong')).toEqual({ ok: false, reason: 'unavailable' });
    expect(await authenticate('dev_b', 'right')).toEqual({ ok: false, reason: 'unavailable' });
    advance(31_000);
    expect(await authenticate('dev_a', 'right')).toEqual({ ok: false, reason: 'unavailable' });
  });

  it('revalidation reports deleted, disabled and rotated devices, and revokes nobody during an outage', async () => {
    const { auth, authenticate, state } = setup();
    state.rows.set('dev_b', { ...stored, deviceId: 'dev_b', secretHash: 'hash-of-b' });
    state.rows.set('dev_c', { ...stored, deviceId: 'dev_c', secretHash: 'hash-of-c' });
    for (const [id, secret] of [
      ['dev_a', 'right'],
      ['dev_b', 'b'],
      ['dev_c', 'c'],
    ] as const) {
      expect((await authenticate(id, secret)).ok).toBe(true);
    }
    expect(await auth.revalidate(['dev_a', 'dev_b', 'dev_c'])).toEqual(new Set());
    state.down = true;
    state.rows.delete('dev_a');
    expect(await auth.revalidate(['dev_a', 'dev_b', 'dev_c'])).toEqual(new Set());
    state.down = false;
    state.rows.get('dev_b')!.active = false;
    state.rows.get('dev_c')!.secretHash = 'hash-of-rotated';
    expect(await auth.revalidate(['dev_a', 'dev_b', 'dev_c'])).toEqual(
      new Set(['dev_a', 'dev_b', 'dev_c']),
    );
    // A revoked device's cache entry is gone: the old secret no longer opens the door.
    expect(await authenticate('dev_c', 'c')).toEqual(refused('bad-secret', 'directory'));
  });

  it('repeats a refusal from the negative cache until it expires, without asking the directory', async () => {
    const { authenticate, state, advance } = setup();
    for (let i = 0; i < 5; i++) {
      await authenticate('dev_x', `guess-${i}`);
      await authenticate('dev_a', 'wrong');
    }
    expect(state.lookups).toBe(2);
    expect(await authenticate('dev_x', 'other')).toEqual(refused('unknown', 'negative-cache'));
    advance(10_000);
    expect(await authenticate('dev_x', 'other')).toMatchObject({ source: 'directory' });
    expect(state.lookups).toBe(3);
  });

  it("never lets someone else's wrong guesses keep the device itself out", async () => {
    const { authenticate } = setup();
    expect(await authenticate('dev_a', 'wrong', '198.51.100.7')).toMatchObject({
      reason: 'bad-secret',
    });
    expect(await authenticate('dev_a', 'right')).toMatchObject({ ok: true, source: 'directory' });
  });

  it('keeps at most the configured number of refusals, forgetting the oldest', async () => {
    const { authenticate, state } = setup({ negativeMax: 3 });
    for (const id of ['dev_1', 'dev_2', 'dev_3', 'dev_4']) await authenticate(id, 's');
    expect(state.lookups).toBe(4);
    await authenticate('dev_4', 's');
    expect(state.lookups).toBe(4);
    await authenticate('dev_1', 's');
    expect(state.lookups).toBe(5);
  });

  it('throttles an address the directory keeps refusing, but still admits devices it knows', async () => {
    const { authenticate, state, advance } = setup({ failuresPerMinute: 3 });
    await authenticate('dev_a', 'right');
    advance(6_000);
    for (let i = 0; i < 3; i++) await authenticate(`dev_bad${i}`, 's');
    const lookups = state.lookups;
    expect(await authenticate('dev_bad9', 's')).toEqual({ ok: false, reason: 'throttled' });
    expect(await authenticate('dev_a', 'right')).toMatchObject({ ok: true, source: 'stale-cache' });
    expect(await authenticate('dev_a', 'wrong')).toEqual({ ok: false, reason: 'throttled' });
    expect(state.lookups).toBe(lookups);
    // Another address is not held back; the throttled one is let in again as it drains.
    expect(await authenticate('dev_bad9', 's', '198.51.100.7')).toMatchObject({
      reason: 'unknown',
    });
    advance(20_000);
    expect(await authenticate('dev_bad8', 's')).toMatchObject({ reason: 'unknown' });
  });

  it('bounds the lookups in flight: past it, known devices get in from the cache and others are told to wait', async () => {
    const { authenticate, state, release, advance } = setup({ maxLookups: 2 });
    await authenticate('dev_a', 'right');
    advance(6_000);
    state.held = true;
    const stalled = [authenticate('dev_x1', 's'), authenticate('dev_x2', 's')];
    await settle();
    expect(state.waiting).toHaveLength(2);
    expect(await authenticate('dev_x3', 's')).toEqual({ ok: false, reason: 'busy' });
    expect(await authenticate('dev_a', 'right')).toMatchObject({ ok: true, source: 'stale-cache' });
    expect(state.lookups).toBe(3);
    state.held = false;
    release();
    expect(await Promise.all(stalled)).toMatchObject([
      { reason: 'unknown' },
      { reason: 'unknown' },
    ]);
    expect(await authenticate('dev_x3', 's')).toMatchObject({
      reason: 'unknown',
      source: 'directory',
    });
  });

  it('revoke: the old secret is refused at once, not after the fresh window', async () => {
    const { auth, authenticate, state } = setup();
    await authenticate('dev_a', 'right');
    state.rows.get('dev_a')!.secretHash = 'hash-of-rotated';
    auth.revoke('dev_a');
    expect(await authenticate('dev_a', 'right')).toEqual(refused('bad-secret', 'directory'));
    expect(await authenticate('dev_a', 'rotated')).toMatchObject({ ok: true, source: 'directory' });
  });

  it('revoke: a lookup under way when the change arrives is not trusted or cached', async () => {
    const { auth, authenticate, state, release } = setup();
    state.held = true;
    const racing = authenticate('dev_a', 'right');
    await settle();
    // The lookup read the row before the rotation committed; the announcement comes after.
    state.rows.get('dev_a')!.secretHash = 'hash-of-rotated';
    auth.revoke('dev_a');
    state.held = false;
    release();
    expect(await racing).toEqual({ ok: false, reason: 'unavailable' });
    expect(await authenticate('dev_a', 'right')).toMatchObject({ reason: 'bad-secret' });
  });

  it('forgetRefusal: an enabled device is let in without waiting for the negative cache', async () => {
    const { auth, authenticate, state } = setup();
    state.rows.get('dev_a')!.active = false;
    expect(await authenticate('dev_a', 'right')).toMatchObject({ reason: 'disabled' });
    state.rows.get('dev_a')!.active = true;
    expect(await authenticate('dev_a', 'right')).toMatchObject({ source: 'negative-cache' });
    auth.forgetRefusal('dev_a');
    expect(await authenticate('dev_a', 'right')).toMatchObject({ ok: true, source: 'directory' });
  });

  it('distrust: no cached success is fresh until the directory confirms it, but it still carries an outage', async () => {
    const { auth, authenticate, state } = setup();
    await authenticate('dev_a', 'right');
    auth.distrust();
    state.down = true;
    expect(await authenticate('dev_a', 'right')).toMatchObject({ ok: true, source: 'stale-cache' });
    state.down = false;
    expect(await authenticate('dev_a', 'right')).toMatchObject({ ok: true, source: 'directory' });
    expect(await authenticate('dev_a', 'right')).toMatchObject({ ok: true, source: 'cache' });
  });

  it('revalidation reports a connected device that was revoked meanwhile', async () => {
    const { auth, authenticate } = setup();
    await authenticate('dev_a', 'right');
    auth.revoke('dev_a');
    expect(await auth.revalidate(['dev_a'])).toEqual(new Set(['dev_a']));
  });
});
