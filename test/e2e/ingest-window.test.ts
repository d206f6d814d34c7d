import { createServer, type AddressInfo, type Server } from 'node:net';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBroker, type Broker } from '../../broker/broker.js';
import { createBrokerMetrics } from '../../broker/broker.metrics.js';
import { createIngestWindow, type IngestWindow } from '../../broker/ingest-window.js';
import { createLogger } from '../../common/logger.js';
import { connectDevice } from '../support/mqtt-device.js';

/**
 * The ingest window against a real Aedes over TCP with a real MQTT client: an ingest slower
 * than the devices must not end up with every published message in the broker at once.
 */
describe('ingest window: overload is held back in TCP, not in the broker', () => {
  const WINDOW = 20;
  const DEVICES = 10;
  const MESSAGES = 200;
  let window: IngestWindow;
  let broker: Broker;
  let server: Server;
  let url: string;
  let running = 0;
  let maxRunning = 0;
  let maxHeld = 0;
  const accepted: string[] = [];

  beforeAll(async () => {
    window = createIngestWindow(WINDOW);
    broker = await buildBroker({
      logger: createLogger({ name: 'test', level: 'silent' }),
      metrics: createBrokerMetrics(() => ({ bytes: 0, segments: 0, oldestAgeMs: 0 }), window),
      window,
      revalidateEveryMs: 60_000,
      authenticator: {
        authenticate: (deviceId) =>
          Promise.resolve({
            ok: true as const,
            identity: { deviceId, deviceKey: 'a'.repeat(32), tenantKey: 'b'.repeat(32) },
            source: 'directory' as const,
          }),
        revalidate: () => Promise.resolve(new Set<string>()),
      },
      // A slow store: each message takes 20 ms to become durable. The timer only paces the
      // load: on a loaded machine it fires later, so more waits behind the window, never less.
      ingest: {
        accept: async (identity, _format, payload) => {
          maxRunning = Math.max(maxRunning, ++running);
          maxHeld = Math.max(maxHeld, window.held());
          await new Promise((resolve) => setTimeout(resolve, 20));
          running--;
          accepted.push(`${identity.deviceId}:${payload.toString()}`);
          return { accepted: true, readings: 1 };
        },
      },
      recordPresence: () => Promise.resolve(),
    });
    server = createServer((socket) => broker.aedes.handle(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await broker?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('keeps the messages in flight near the window and still acknowledges every one', async () => {
    const clients: MqttClient[] = await Promise.all(
      Array.from({ length: DEVICES }, (_, d) =>
        connectDevice(url, { id: `device-${d}`, secret: 'unused' }),
      ),
    );
    // Every message is sent at once, as a fleet reconnecting with a backlog would.
    await Promise.all(
      clients.flatMap((client, d) =>
        Array.from({ length: MESSAGES }, (_, m) =>
          client.publishAsync(`devices/device-${d}/telemetry`, String(m), { qos: 1 }),
        ),
      ),
    );
    await Promise.all(clients.map((client) => client.endAsync()));

    expect(accepted).toHaveLength(DEVICES * MESSAGES);
    expect(new Set(accepted).size).toBe(DEVICES * MESSAGES);
    // Without the window all 2,000 would be in flight together. With it, at most the window
    // plus what one socket read of a device held when the window filled.
    expect(maxRunning).toBeGreaterThanOrEqual(WINDOW);
    expect(maxRunning).toBeLessThanOrEqual(WINDOW + MESSAGES);
    expect(maxHeld).toBeGreaterThan(0);
    expect(window.inFlight()).toBe(0);
    expect(window.held()).toBe(0);
  });
});
