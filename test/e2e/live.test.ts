import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDevice, eventually } from '../support/mqtt-device.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';
import { PATIENCE_MS, until } from '../support/wait.js';

interface Device {
  id: string;
  secret: string;
  pseudonym: string;
}
interface LiveEvent {
  event: string;
  data: string;
}
interface Reading {
  time: string;
  deviceId: string;
  metric: string;
  value: number | boolean;
}

/**
 * A Server-Sent Events client on fetch, as the dashboard reads the stream: it keeps every event
 * and the raw text, and `next` waits for an event that passes a check.
 */
class SseClient {
  readonly events: LiveEvent[] = [];
  text = '';
  private readonly abort = new AbortController();
  private waiters: (() => void)[] = [];
  private reading: Promise<void> = Promise.resolve();

  static async open(url: string, token: string): Promise<{ status: number; client: SseClient }> {
    const client = new SseClient();
    const response = await fetch(url, {
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
      signal: client.abort.signal,
    });
    if (response.status === 200) client.reading = client.read(response);
    else await response.body?.cancel();
    return { status: response.status, client };
  }

  private async read(response: Response): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const bytes of response.body as AsyncIterable<Uint8Array>) {
        const chunk = decoder.decode(bytes, { stream: true });
        this.text += chunk;
        buffer += chunk;
        for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const field = (name: string) =>
            frame
              .split('\n')
              .filter((line) => line.startsWith(`${name}: `))
              .map((line) => line.slice(name.length + 2))
              .join('\n');
          if (field('event')) {
            this.events.push({ event: field('event'), data: field('data') });
          }
        }
        for (const wake of this.waiters) wake();
      }
    } catch {
      // Aborted by close().
    }
  }

  readings(): Reading[] {
    return this.events
      .filter((e) => e.event === 'reading')
      .map((e) => JSON.parse(e.data) as Reading);
  }

  /** Resolves with the first reading that passes `check`, or rejects after `ms`. */
  async next(check: (r: Reading) => boolean, ms = PATIENCE_MS): Promise<Reading> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.readings().find(check);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no such reading arrived');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      this.waiters = [];
    }
  }

  /** Whether the server ended the stream within `ms`. */
  async ended(ms = PATIENCE_MS): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, ms, false)));
    const done = this.reading.then(() => !this.abort.signal.aborted);
    return Promise.race([done, timeout]).finally(() => clearTimeout(timer));
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.reading;
  }
}

describe('live stream of new readings (Server-Sent Events)', () => {
  let platform: TestPlatform;
  let orgA: { id: string; tenantKey: string };
  let orgB: { id: string; tenantKey: string };
  let north: Device;
  let south: Device;
  let foreign: Device;
  let viewerToken: string;
  let outsiderToken: string;
  const mqttClients: MqttClient[] = [];
  const streams: SseClient[] = [];

  const liveUrl = (orgId: string, query = '') =>
    `${platform.apiUrl}/api/v1/orgs/${orgId}/live${query}`;

  async function open(url: string, token: string) {
    const opened = await SseClient.open(url, token);
    streams.push(opened.client);
    return opened;
  }

  /**
   * Resolves once every reading the broker acknowledged so far is in InfluxDB: its spool keeps
   * a segment until InfluxDB confirmed all of it. So a reading published afterwards arrives
   * through a poll that also saw the earlier ones, and whatever that poll did not deliver of
   * them is never delivered.
   */
  const stored = () => until(() => platform.broker.spool.stats().segments === 0, 'spool drained');

  async function device(d: Device) {
    const client = await connectDevice(platform.mqttUrl, d);
    mqttClients.push(client);
    return {
      publish: (readings: Record<string, number | boolean>, ts = Date.now()) =>
        client.publishAsync(`devices/${d.id}/telemetry`, JSON.stringify({ ts, readings }), {
          qos: 1,
        }),
    };
  }

  beforeAll(async () => {
    platform = await startTestPlatform();
    orgA = await platform.createOrg('Live Co');
    orgB = await platform.createOrg('Elsewhere Co');
    north = await platform.provisionDevice(orgA.id, 'North bay');
    south = await platform.provisionDevice(orgA.id, 'South bay');
    foreign = await platform.provisionDevice(orgB.id, 'Foreign bay');
    const viewer = await platform.createMember(orgA.id, 'viewer');
    const outsider = await platform.createMember(orgB.id, 'owner');
    [viewerToken, outsiderToken] = await Promise.all([
      platform.login(viewer.email, viewer.password),
      platform.login(outsider.email, outsider.password),
    ]);
  });

  afterAll(async () => {
    await Promise.all(streams.map((s) => s.close()));
    for (const client of mqttClients) client.end(true);
    await platform?.close();
  });

  it('P2: a reading published over MQTT reaches a viewer, under its device id', async () => {
    const { status, client } = await open(liveUrl(orgA.id), viewerToken);
    expect(status).toBe(200);
    const publisher = await device(north);
    const publishedAt = Date.now();
    await publisher.publish({ temperature: 21.5, door_open: true }, publishedAt);
    const reading = await client.next((r) => r.metric === 'temperature');
    expect(reading).toMatchObject({
      time: new Date(publishedAt).toISOString(),
      deviceId: north.id,
      metric: 'temperature',
      value: 21.5,
    });
    await client.next((r) => r.metric === 'door_open' && r.value === true);
    // Pseudonyms never leave the API.
    expect(client.text).not.toContain(north.pseudonym);
    expect(client.text).not.toContain(orgA.tenantKey);
  });

  it('delivers each reading once, also one stamped a few seconds in the past', async () => {
    const { client } = await open(liveUrl(orgA.id), viewerToken);
    const publisher = await device(south);
    const stamped = Date.now() - 3000;
    await publisher.publish({ humidity: 55 }, stamped);
    await client.next((r) => r.metric === 'humidity' && r.deviceId === south.id);
    // Re-sent by the device (same timestamp): stored once, delivered once.
    await publisher.publish({ humidity: 55 }, stamped);
    await stored();
    await publisher.publish({ humidity: 56 });
    await client.next((r) => r.value === 56);
    expect(client.readings().filter((r) => r.value === 55)).toHaveLength(1);
  });

  it('P2: a device of another organisation never appears, and an outsider gets 404', async () => {
    const { client } = await open(liveUrl(orgA.id), viewerToken);
    const outsider = await open(liveUrl(orgA.id), outsiderToken);
    expect(outsider.status).toBe(404);
    const ownStream = await open(liveUrl(orgB.id), outsiderToken);
    expect(ownStream.status).toBe(200);

    const stranger = await device(foreign);
    const ours = await device(north);
    await stranger.publish({ temperature: 99 });
    // The foreign reading reached its own organisation's stream, so it was stored; ours is
    // stored after it, so the poll that brings ours would have brought the foreign one too.
    await ownStream.client.next((r) => r.value === 99);
    await ours.publish({ temperature: 11 });
    await client.next((r) => r.value === 11);
    expect(client.readings().some((r) => r.deviceId === foreign.id || r.value === 99)).toBe(false);
    expect(ownStream.client.readings().every((r) => r.deviceId === foreign.id)).toBe(true);

    const foreignFilter = await open(liveUrl(orgA.id, `?devices=${foreign.id}`), viewerToken);
    expect(foreignFilter.status).toBe(404);
    expect((await fetch(liveUrl(orgA.id))).status).toBe(401);
  });

  it('filters by device', async () => {
    const { client } = await open(liveUrl(orgA.id, `?devices=${south.id}`), viewerToken);
    const [n, s] = await Promise.all([device(north), device(south)]);
    await n.publish({ temperature: 12 });
    await stored();
    await s.publish({ temperature: 13 });
    await client.next((r) => r.value === 13);
    expect(client.readings().every((r) => r.deviceId === south.id)).toBe(true);
  });

  it('polls only while someone listens: closing the last client stops the poller', async () => {
    await Promise.all(streams.splice(0).map((s) => s.close()));
    await eventually(
      PATIENCE_MS,
      () => Promise.resolve(platform.api.live.pollingCount),
      (count) => count === 0,
    );
    expect(platform.api.live.pollingCount).toBe(0);

    const first = await open(liveUrl(orgA.id), viewerToken);
    const second = await open(liveUrl(orgA.id), viewerToken);
    // One poller for the organisation, however many streams.
    expect(platform.api.live.pollingCount).toBe(1);
    await first.client.close();
    expect(platform.api.live.pollingCount).toBe(1);
    await second.client.close();
    const count = await eventually(
      PATIENCE_MS,
      () => Promise.resolve(platform.api.live.pollingCount),
      (n) => n === 0,
    );
    expect(count).toBe(0);
  });

  it('ends open streams when the API shuts down', async () => {
    const { client } = await open(liveUrl(orgA.id), viewerToken);
    expect(platform.api.live.pollingCount).toBe(1);
    platform.api.live.close();
    expect(await client.ended()).toBe(true);
    expect(client.text).toMatch(/^retry: 2000\n\n/);
    expect(platform.api.live.pollingCount).toBe(0);
    const refused = await open(liveUrl(orgA.id), viewerToken);
    expect(refused.status).toBe(503);
  });
});
