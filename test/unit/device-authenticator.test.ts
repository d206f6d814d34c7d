import { describe, expect, it } from 'vitest';
import {
  createDeviceAuthenticator,
  type CredentialLookup,
  type StoredCredentials,
} from '../../broker/device-authenticator.js';

const stored: StoredCredentials = {
  deviceId: 'dev_a',
  secretHash: 'hash-of-right',
  deviceKey: 'a'.repeat(32),
  tenantKey: 'b'.repeat(32),
  active: true,
};

/** A directory stand-in whose contents, availability and call count the test controls. */
function fakeDirectory() {
  const state = {
    rows: new Map([[stored.deviceId, { ...stored }]]),
    down: false,
    lookups: 0,
    hashes: 0,
  };
  const lookup: CredentialLookup = {
    find: (id) => {
      state.lookups++;
      return state.down
        ? Promise.reject(new Error('ECONNREFUSED'))
        : Promise.resolve(state.rows.get(id) ?? null);
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
  return { state, lookup, verifySecret };
}

function setup() {
  const directory = fakeDirectory();
  let time = 1_000_000;
  const auth = createDeviceAuthenticator({
    credentials: directory.lookup,
    verifySecret: directory.verifySecret,
    freshMs: 5_000,
    staleMs: 60_000,
    now: () => time,
  });
  return { auth, state: directory.state, advance: (ms: number) => (time += ms) };
}

describe('device authenticator', () => {
  it('accepts the right secret and refuses a wrong one, an unknown and a disabled device', async () => {
    const { auth, state, advance } = setup();
    expect(await auth.authenticate('dev_a', 'right')).toMatchObject({
      ok: true,
      source: 'directory',
      identity: { deviceId: 'dev_a', deviceKey: stored.deviceKey, tenantKey: stored.tenantKey },
    });
    expect(await auth.authenticate('dev_a', 'wrong')).toEqual({ ok: false, reason: 'bad-secret' });
    expect(await auth.authenticate('dev_x', 'right')).toEqual({ ok: false, reason: 'unknown' });
    state.rows.get('dev_a')!.active = false;
    // Within the fresh window the cache still answers; revocation takes effect after it.
    expect((await auth.authenticate('dev_a', 'right')).ok).toBe(true);
    advance(5_000);
    expect(await auth.authenticate('dev_a', 'right')).toEqual({ ok: false, reason: 'disabled' });
  });

  it('trusts a fresh cached success without the directory, and skips the slow hash on re-checks', async () => {
    const { auth, state, advance } = setup();
    await auth.authenticate('dev_a', 'right');
    expect(await auth.authenticate('dev_a', 'right')).toMatchObject({ ok: true, source: 'cache' });
    expect(state.lookups).toBe(1);
    advance(6_000);
    expect(await auth.authenticate('dev_a', 'right')).toMatchObject({
      ok: true,
      source: 'directory',
    });
    expect(state.lookups).toBe(2);
    expect(state.hashes).toBe(1);
  });

  it('never lets the cache accept a different secret', async () => {
    const { auth } = setup();
    await auth.authenticate('dev_a', 'right');
    expect(await auth.authenticate('dev_a', 'wrong')).toEqual({ ok: false, reason: 'bad-secret' });
  });

  it('lets known devices in through a directory outage, until the stale limit', async () => {
    const { auth, state, advance } = setup();
    await auth.authenticate('dev_a', 'right');
    state.down = true;
    advance(30_000);
    expect(await auth.authenticate('dev_a', 'right')).toMatchObject({
      ok: true,
      source: 'stale-cache',
    });
    expect(await auth.authenticate('dev_a', 'wrong')).toEqual({ ok: false, reason: 'unavailable' });
    expect(await auth.authenticate('dev_b', 'right')).toEqual({ ok: false, reason: 'unavailable' });
    advance(31_000);
    expect(await auth.authenticate('dev_a', 'right')).toEqual({ ok: false, reason: 'unavailable' });
  });

  it('revalidation reports deleted, disabled and rotated devices, and revokes nobody during an outage', async () => {
    const { auth, state } = setup();
    state.rows.set('dev_b', { ...stored, deviceId: 'dev_b', secretHash: 'hash-of-b' });
    state.rows.set('dev_c', { ...stored, deviceId: 'dev_c', secretHash: 'hash-of-c' });
    for (const [id, secret] of [
      ['dev_a', 'right'],
      ['dev_b', 'b'],
      ['dev_c', 'c'],
    ] as const) {
      expect((await auth.authenticate(id, secret)).ok).toBe(true);
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
    expect(await auth.authenticate('dev_c', 'c')).toEqual({ ok: false, reason: 'bad-secret' });
  });
});
