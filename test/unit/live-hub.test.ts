import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LiveHub, type LiveReading, type LiveSubscriber } from '../../api/live/live-hub.js';
import { StreamGuard, type StreamHolder } from '../../api/live/stream-guard.js';
import type { ErrorCode } from '../../common/errors.js';
import { createLogger } from '../../common/logger.js';
import type { RecentReading } from '../../influx/recent-readings.reader.js';
import type { TenantTelemetry } from '../../influx/tenant-telemetry.js';
import { testClock } from '../support/clock.js';

const TENANT = 'a'.repeat(32);
const KEY_1 = '1'.repeat(32);
const KEY_2 = '2'.repeat(32);
const ORG = { orgId: '00000000-0000-4000-8000-000000000001', tenantKey: TENANT };
const POLL_MS = 10;

/**
 * InfluxDB and the directory as the hub sees them, in memory, and the hub's time: its polls
 * are fake timers and its clock a test clock, and `poll` moves both by one poll interval, so
 * each poll happens exactly when a test says and sees exactly the time the test chose.
 */
function fakes() {
  const clock = testClock(Date.parse('2026-01-01T00:00:00.000Z'));
  const stored: RecentReading[] = [];
  const directory = [
    { id: 'dev_one', pseudonym: KEY_1 },
    { id: 'dev_two', pseudonym: KEY_2 },
  ];
  const calls = { polls: 0, directoryReads: 0 };
  let failing = false;
  const hub = new LiveHub({
    telemetry: {
      forTenant(tenantKey) {
        expect(tenantKey).toBe(TENANT);
        const live: TenantTelemetry['live'] = {
          since(since, limit) {
            calls.polls++;
            if (failing) return Promise.reject(new Error('InfluxDB is down'));
            const rows = stored
              .filter((r) => r.time > since.getTime())
              .sort((a, b) => a.time - b.time)
              .slice(0, limit);
            return Promise.resolve(rows);
          },
        };
        // The hub reads only the live poll of a tenant's telemetry.
        return { live } as TenantTelemetry;
      },
    },
    devices: {
      listForOrg(orgId) {
        calls.directoryReads++;
        expect(orgId).toBe(ORG.orgId);
        return Promise.resolve([...directory]);
      },
    },
    logger: createLogger({ name: 'test', level: 'silent' }),
    pollMs: POLL_MS,
    now: clock.now,
  });
  const store = (deviceKey: string, value: number, time = clock.now()) =>
    stored.push({ time, deviceKey, metric: 'temperature', value });
  /** Lets `count` poll intervals pass; each poll runs to its end before the next starts. */
  const poll = async (count = 1) => {
    for (let i = 0; i < count; i++) {
      clock.advance(POLL_MS);
      await vi.advanceTimersByTimeAsync(POLL_MS);
    }
  };
  return {
    hub,
    clock,
    poll,
    stored,
    store,
    directory,
    calls,
    fail: (on: boolean) => (failing = on),
  };
}

function subscriber(devices: string[] | null = null) {
  const received: LiveReading[] = [];
  const state = { ended: false };
  const sub: LiveSubscriber = {
    devices: devices && new Set(devices),
    send: (r) => received.push(r),
    end: () => (state.ended = true),
  };
  return { sub, received, state };
}

describe('live hub', () => {
  const hubs: LiveHub[] = [];
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  });
  afterEach(() => {
    for (const hub of hubs.splice(0)) hub.close();
    vi.useRealTimers();
  });
  function setup() {
    const f = fakes();
    hubs.push(f.hub);
    return f;
  }

  it('delivers only readings stored after subscribing, each once, under the device id', async () => {
    const f = setup();
    f.store(KEY_1, 1, f.clock.now() - 1000);
    const a = subscriber();
    await f.hub.subscribe(ORG, a.sub);
    const now = f.clock.now();
    f.store(KEY_1, 2, now);
    f.store(KEY_2, 3, now - 4000); // stamped in the past, inside the overlap window
    await f.poll();
    expect(a.received).toHaveLength(2);
    f.store(KEY_1, 2, now); // written again: same time, device and metric
    await f.poll(3);
    expect(a.received).toEqual([
      {
        time: new Date(now - 4000).toISOString(),
        deviceId: 'dev_two',
        metric: 'temperature',
        value: 3,
      },
      { time: new Date(now).toISOString(), deviceId: 'dev_one', metric: 'temperature', value: 2 },
    ]);
  });

  it('polls once per organisation, filters per subscriber and stops with the last one', async () => {
    const f = setup();
    const all = subscriber();
    const onlyTwo = subscriber(['dev_two']);
    const leaveAll = await f.hub.subscribe(ORG, all.sub);
    const leaveTwo = await f.hub.subscribe(ORG, onlyTwo.sub);
    expect(f.hub.pollingCount).toBe(1);
    f.store(KEY_1, 1);
    f.store(KEY_2, 2);
    const polls = f.calls.polls;
    await f.poll();
    expect(f.calls.polls).toBe(polls + 1);
    expect(all.received).toHaveLength(2);
    expect(onlyTwo.received).toMatchObject([{ deviceId: 'dev_two', value: 2 }]);
    leaveAll();
    expect(f.hub.pollingCount).toBe(1);
    leaveTwo();
    expect(f.hub.pollingCount).toBe(0);
    // No poll is scheduled any more, and none happens however much time passes.
    expect(vi.getTimerCount()).toBe(0);
    await f.poll(10);
    expect(f.calls.polls).toBe(polls + 1);
  });

  it('re-reads the directory for a new device, and drops a device it does not know', async () => {
    const f = setup();
    const a = subscriber();
    await f.hub.subscribe(ORG, a.sub);
    expect(f.calls.directoryReads).toBe(1);
    const KEY_3 = '3'.repeat(32);
    f.directory.push({ id: 'dev_three', pseudonym: KEY_3 });
    f.store(KEY_3, 3);
    f.store('f'.repeat(32), 4); // removed from the directory: never delivered
    // At most one directory read a second, however many polls see the unknown pseudonym: the
    // new device's reading waits until a second has passed since the last read.
    const pollsPerSecond = 1000 / POLL_MS;
    await f.poll(pollsPerSecond - 1);
    expect(a.received).toEqual([]);
    expect(f.calls.directoryReads).toBe(1);
    await f.poll();
    expect(f.calls.directoryReads).toBe(2);
    expect(a.received).toMatchObject([{ deviceId: 'dev_three', value: 3 }]);
    // The unknown one was dropped, not left to make every later poll read the directory.
    await f.poll(2 * pollsPerSecond);
    expect(a.received).toHaveLength(1);
    expect(f.calls.directoryReads).toBe(2);
  });

  it('catches up over several polls when more than a poll returns arrive at once', async () => {
    const f = setup();
    const a = subscriber();
    await f.hub.subscribe(ORG, a.sub);
    const start = f.clock.now() - 2000;
    for (let i = 0; i < 12_000; i++) f.store(i % 2 ? KEY_1 : KEY_2, i, start + Math.floor(i / 2));
    let polls = 0;
    while (a.received.length < 12_000 && polls < 10) {
      await f.poll();
      polls++;
    }
    expect(polls).toBeGreaterThan(1);
    expect(a.received).toHaveLength(12_000);
    expect(new Set(a.received.map((r) => r.value)).size).toBe(12_000);
  });

  it('keeps polling through an InfluxDB failure, and refuses to start without InfluxDB', async () => {
    const f = setup();
    const a = subscriber();
    await f.hub.subscribe(ORG, a.sub);
    const polls = f.calls.polls;
    f.fail(true);
    await f.poll();
    expect(f.calls.polls).toBe(polls + 1);
    f.fail(false);
    f.store(KEY_1, 7);
    await f.poll();
    expect(a.received).toMatchObject([{ deviceId: 'dev_one', value: 7 }]);

    const g = setup();
    g.fail(true);
    await expect(g.hub.subscribe(ORG, subscriber().sub)).rejects.toThrow('InfluxDB is down');
    expect(g.hub.pollingCount).toBe(0);
  });

  it('ends every stream on close and refuses new ones', async () => {
    const f = setup();
    const a = subscriber();
    await f.hub.subscribe(ORG, a.sub);
    f.hub.close();
    expect(a.state.ended).toBe(true);
    expect(f.hub.pollingCount).toBe(0);
    await expect(f.hub.subscribe(ORG, subscriber().sub)).rejects.toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
    });
  });
});

describe('stream guard', () => {
  const RECHECK_MS = 1000;
  const USER_1 = '00000000-0000-4000-8000-0000000000a1';
  const USER_2 = '00000000-0000-4000-8000-0000000000a2';

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** The token service and directory as the guard sees them, counting what it asks. */
  function guarded() {
    const clock = testClock(Date.parse('2026-01-01T00:00:00.000Z'));
    const calls = { verify: 0, membership: 0 };
    const valid = new Set<string>(['token-1', 'token-2']);
    const guard = new StreamGuard({
      tokens: {
        verify(token) {
          calls.verify++;
          return Promise.resolve(
            valid.has(token)
              ? { userId: token === 'token-2' ? USER_2 : USER_1, sessionId: token }
              : null,
          );
        },
      },
      organisations: {
        membership() {
          calls.membership++;
          return Promise.resolve({ role: 'viewer' as const });
        },
      },
      logger: createLogger({ name: 'test', level: 'silent' }),
      limits: { recheckMs: RECHECK_MS, perUser: 10_000, perIp: 10_000 },
      now: clock.now,
    });
    const revoked: ErrorCode[] = [];
    const open = (token: string, userId = USER_1) => {
      const holder: StreamHolder = {
        token,
        userId,
        ip: '192.0.2.1',
        orgId: ORG.orgId,
        minRole: 'viewer',
        capped: true,
      };
      return guard.admit(holder, (code) => revoked.push(code));
    };
    /** One re-check interval on the guard's clock and its timer, and the round it starts. */
    const round = async () => {
      clock.advance(RECHECK_MS);
      await vi.advanceTimersByTimeAsync(RECHECK_MS);
    };
    return { guard, calls, valid, open, round, revoked };
  }

  it('checks a thousand streams of one token and one organisation with one lookup each per round', async () => {
    const g = guarded();
    const releases = Array.from({ length: 1000 }, () => g.open('token-1'));
    releases.push(g.open('token-2', USER_2));
    await g.round();
    // Two tokens, two memberships: not one lookup per stream.
    expect(g.calls).toEqual({ verify: 2, membership: 2 });
    expect(g.revoked).toEqual([]);

    g.valid.delete('token-1');
    await g.round();
    expect(g.calls).toEqual({ verify: 4, membership: 4 });
    expect(g.revoked).toHaveLength(1000);
    expect(new Set(g.revoked)).toEqual(new Set(['UNAUTHENTICATED']));
    // Revoked streams are released: only the other token's stream is left.
    expect(g.guard.openCount).toBe(1);
    for (const release of releases) release();
  });

  it('runs no timer and asks nothing while no stream is open', async () => {
    const g = guarded();
    g.open('token-1')();
    await g.round();
    await g.round();
    expect(g.calls).toEqual({ verify: 0, membership: 0 });
    expect(vi.getTimerCount()).toBe(0);
  });
});
