import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDevice } from '../support/mqtt-device.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';
import { until } from '../support/wait.js';

type Device = { id: string; secret: string };

const FAILURES_PER_MINUTE = 20;
const MAX_LOOKUPS = 4;

/**
 * The broker under a flood of CONNECTs with made-up ids and wrong secrets, all from one address
 * (the test's): the devices it knows must keep connecting and publishing, and the flood must
 * not turn into one directory lookup per CONNECT. Every known device needs a lookup on each
 * CONNECT (AUTH_CACHE_FRESH_MS=1) unless the broker decides not to ask, so they compete with
 * the flood for the directory. Nothing here waits for time to pass: the flood runs until the
 * known devices have done their part and at least FLOOD_MIN attempts were made.
 */
const overrides = {
  AUTH_CACHE_FRESH_MS: '1',
  AUTH_MAX_LOOKUPS_IN_FLIGHT: String(MAX_LOOKUPS),
  MQTT_CONNECT_FAILURES_PER_MINUTE: String(FAILURES_PER_MINUTE),
  BROKER_DATABASE_TIMEOUT_MS: '500',
};
const FLOOD_WORKERS = 20;
const FLOOD_MIN = 300;
const CONNECTS_PER_KNOWN_DEVICE = 3;

/** Bad CONNECTs until `stop()`; the CONNACK codes they got. */
function flood(url: string, known: Device[]) {
  const codes: number[] = [];
  let stopped = false;
  const repeat = { id: known[0]!.id, secret: 'the-same-wrong-secret' };
  async function worker(n: number) {
    for (let i = 0; !stopped; i++) {
      const made = randomBytes(6).toString('hex');
      const target =
        n === 0
          ? repeat // one misconfigured device retrying: the negative cache answers it
          : i % 2 === 0
            ? { id: `dev_${made}`, secret: made } // a made-up id
            : { id: known[i % known.length]!.id, secret: made }; // a guess at a real device
      try {
        (await connectDevice(url, target)).end(true);
        codes.push(0);
      } catch (err) {
        codes.push((err as { code?: number }).code ?? -1);
      }
    }
  }
  const running = Promise.all(Array.from({ length: FLOOD_WORKERS }, (_, n) => worker(n)));
  return {
    codes,
    async stop() {
      stopped = true;
      await running;
    },
  };
}

async function metrics(platform: TestPlatform): Promise<string> {
  return (await fetch(`http://127.0.0.1:${platform.brokerPorts.metrics}/metrics`)).text();
}

function counter(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

/** Each known device connects, publishes at QoS 1 and disconnects, while the flood goes on. */
async function useKnownDevices(platform: TestPlatform, known: Device[], floodCodes: number[]) {
  const results: string[] = [];
  await Promise.all(
    known.map(async (device) => {
      for (let i = 0; i < CONNECTS_PER_KNOWN_DEVICE || floodCodes.length < FLOOD_MIN; i++) {
        const client = await connectDevice(platform.mqttUrl, device);
        await client.publishAsync(
          `devices/${device.id}/telemetry`,
          JSON.stringify({ ts: Date.now() - 1000 - i, readings: { flood_test: i } }),
          { qos: 1 },
        );
        await client.endAsync();
        results.push(device.id);
      }
    }),
  );
  return results;
}

async function knownFleet(platform: TestPlatform, count: number) {
  const org = await platform.createOrg('Flooded AB');
  const known: Device[] = [];
  for (let i = 0; i < count; i++) known.push(await platform.provisionDevice(org.id, `Known ${i}`));
  // Known: each has signed in once, so the broker has it in its cache.
  for (const device of known) (await connectDevice(platform.mqttUrl, device)).end(true);
  return { orgId: org.id, known };
}

describe('a flood of bad CONNECTs', () => {
  let platform: TestPlatform;
  let known: Device[];

  beforeAll(async () => {
    platform = await startTestPlatform(overrides);
    ({ known } = await knownFleet(platform, 5));
  });

  afterAll(async () => {
    await platform?.close();
  });

  it('lets known devices keep connecting, and most of it never reaches the directory', async () => {
    const startedAt = Date.now();
    const bad = flood(platform.mqttUrl, known);
    await until(() => bad.codes.length >= 50, 'the flood under way');
    const connected = await useKnownDevices(platform, known, bad.codes);
    await bad.stop();
    const elapsedMs = Date.now() - startedAt;

    expect(connected.length).toBeGreaterThanOrEqual(known.length * CONNECTS_PER_KNOWN_DEVICE);
    expect(bad.codes.length).toBeGreaterThanOrEqual(FLOOD_MIN);
    // Refused as not authorised (5) or told to come back later (3); never let in.
    expect(new Set(bad.codes)).toEqual(new Set([3, 5]));

    const text = await metrics(platform);
    const throttled = counter(text, 'telemoat_mqtt_connects_total', '{outcome="throttled"}');
    const fromCache = counter(text, 'telemoat_mqtt_connects_refused_from_cache_total');
    const refusals =
      counter(text, 'telemoat_mqtt_connects_total', '{outcome="unknown"}') +
      counter(text, 'telemoat_mqtt_connects_total', '{outcome="bad-secret"}');
    expect(throttled).toBeGreaterThan(0);
    expect(fromCache).toBeGreaterThan(0);
    // The directory refused at most the address's allowance (and what it regained meanwhile),
    // plus the lookups already in flight when the allowance ran out.
    const allowance = FAILURES_PER_MINUTE * (1 + elapsedMs / 60_000) + MAX_LOOKUPS;
    expect(refusals - fromCache).toBeLessThanOrEqual(allowance);
    expect(bad.codes.filter((c) => c === 3).length).toBeGreaterThan(bad.codes.length / 2);
  });
});

describe('a flood of bad CONNECTs while Postgres is stalled', () => {
  let platform: TestPlatform;
  let known: Device[];
  let stranger: Device;

  beforeAll(async () => {
    platform = await startTestPlatform(overrides);
    const fleet = await knownFleet(platform, 3);
    known = fleet.known;
    // Provisioned, but never seen by the broker: it must ask the directory about this one.
    stranger = await platform.provisionDevice(fleet.orgId, 'Stranger');
  });

  afterAll(async () => {
    await platform?.close();
  });

  it('lets known devices in from the cache, tells others to come back, and recovers', async () => {
    // Every credentials lookup now waits on the lock, as on a Postgres that has stopped answering.
    const lock: pg.PoolClient = await platform.adminPool.connect();
    try {
      await lock.query('BEGIN');
      await lock.query('LOCK TABLE devices IN ACCESS EXCLUSIVE MODE');
      const bad = flood(platform.mqttUrl, known);
      await until(() => bad.codes.length >= 50, 'the flood under way');
      const connected = await useKnownDevices(platform, known, bad.codes);
      await expect(connectDevice(platform.mqttUrl, stranger)).rejects.toMatchObject({ code: 3 });
      await bad.stop();
      expect(connected.length).toBeGreaterThanOrEqual(known.length * CONNECTS_PER_KNOWN_DEVICE);
      // The directory answered none of it: nobody was refused for good or let in.
      expect(new Set(bad.codes)).toEqual(new Set([3]));
    } finally {
      await lock.query('ROLLBACK');
      lock.release();
    }
    const client = await connectDevice(platform.mqttUrl, stranger);
    expect(client.connected).toBe(true);
    client.end(true);
  });
});
