import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker } from '../../bin/broker.js';
import { brokerConfigSchema } from '../../broker/broker.config.js';
import { loadConfig } from '../../common/config.js';
import { createLogger } from '../../common/logger.js';
import { closed, connectDevice } from '../support/mqtt-device.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';

/**
 * A broker whose InfluxDB is unreachable fills its spool; once the spool is full it must stop
 * acknowledging (the device keeps the message and retries) rather than drop anything.
 */
describe('backpressure when the spool is full', () => {
  let platform: TestPlatform;
  let spoolDir: string;
  let broker: Awaited<ReturnType<typeof startBroker>>;
  let device: { id: string; secret: string };

  beforeAll(async () => {
    platform = await startTestPlatform();
    device = await platform.provisionDevice((await platform.createOrg('Full Spool AB')).id, 'Busy');
    spoolDir = await mkdtemp(path.join(tmpdir(), 'telemoat-full-spool-'));
    const config = loadConfig('broker', brokerConfigSchema, {
      ...platform.env,
      // Nothing listens on port 9: every write fails, so the spool only grows.
      INFLUX_URL: 'http://127.0.0.1:9',
      SPOOL_DIR: spoolDir,
      SPOOL_MAX_BYTES: String(1024 * 1024),
      MQTT_PORT: '0',
      MQTT_WS_PORT: '0',
      METRICS_PORT: '0',
    });
    broker = await startBroker(config, createLogger({ name: 'test', level: 'silent' }));
  });

  afterAll(async () => {
    await broker?.close();
    await platform?.close();
    await rm(spoolDir, { recursive: true, force: true });
  });

  it('acknowledges until the spool is full, then closes the connection without a PUBACK', async () => {
    const client = await connectDevice(`mqtt://127.0.0.1:${broker.port}`, device);
    const readings = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`m${i}`, i]));
    const base = Date.now() - 60_000;
    let acknowledged = 0;
    let refused = false;
    for (let i = 0; i < 20 && !refused; i++) {
      const body = JSON.stringify({ ts: base + i, readings });
      const outcome = await Promise.race([
        client.publishAsync(`devices/${device.id}/telemetry`, body, { qos: 1 }).then(() => 'acked'),
        closed(client, 5000).then((gone) => (gone ? 'closed' : 'timeout')),
      ]);
      if (outcome === 'acked') acknowledged++;
      else refused = outcome === 'closed';
    }
    client.end(true);
    expect(refused).toBe(true);
    // About 1 MiB of line protocol fits: some messages were acknowledged, the rest were not.
    expect(acknowledged).toBeGreaterThan(3);
    expect(acknowledged).toBeLessThan(20);
    expect(broker.spool.stats().bytes).toBeLessThanOrEqual(1024 * 1024);
    const metrics = await (await fetch(`http://127.0.0.1:${broker.ports.metrics}/metrics`)).text();
    expect(metrics).toMatch(/^telemoat_messages_not_acknowledged_total [1-9]/m);
  });
});
