import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { createBrokerMetrics } from '../../broker/broker.metrics.js';
import { listenForDeviceChanges, type NotificationClient } from '../../broker/device-changes.js';
import { createIngestWindow } from '../../broker/ingest-window.js';
import { createLogger } from '../../common/logger.js';
import { until } from '../support/wait.js';

/** A Postgres client stand-in: the test delivers notifications and breaks the connection. */
class FakeClient extends EventEmitter implements NotificationClient {
  readonly queries: string[] = [];
  ended = false;
  constructor(private readonly refuse: boolean) {
    super();
  }
  connect(): Promise<void> {
    return this.refuse ? Promise.reject(new Error('ECONNREFUSED')) : Promise.resolve();
  }
  query(sql: string): Promise<unknown> {
    this.queries.push(sql);
    return Promise.resolve({});
  }
  end(): Promise<void> {
    this.ended = true;
    return Promise.resolve();
  }
  notify(channel: string, payload: string): void {
    this.emit('notification', { channel, payload });
  }
}

const CHANNEL = 'device_changes_test';

function setup(refusals = 0) {
  const clients: FakeClient[] = [];
  const calls: string[] = [];
  const metrics = createBrokerMetrics(
    () => ({ bytes: 0, segments: 0, oldestAgeMs: 0 }),
    createIngestWindow(1),
  );
  const listener = listenForDeviceChanges({
    connect: () => {
      const client = new FakeClient(clients.length < refusals);
      clients.push(client);
      return client;
    },
    channel: CHANNEL,
    parse: (payload) => {
      const [deviceId = '', kind] = payload.split(':');
      return kind === 'revoked' || kind === 'enabled'
        ? { deviceId, revoked: kind === 'revoked' }
        : null;
    },
    authenticator: {
      revoke: (id) => calls.push(`revoke ${id}`),
      forgetRefusal: (id) => calls.push(`forgetRefusal ${id}`),
      distrust: () => calls.push('distrust'),
    },
    broker: {
      disconnect: (id) => calls.push(`disconnect ${id}`) > 0,
      revalidate: () => {
        calls.push('revalidate');
        return Promise.resolve([]);
      },
    },
    metrics,
    logger: createLogger({ name: 'test', level: 'silent' }),
    heartbeatMs: 60_000,
    retryMs: { min: 1, max: 4 },
  });
  const listening = async () =>
    (await metrics.registry.getSingleMetric('telemoat_device_changes_listening')!.get()).values[0]
      ?.value === 1;
  return { clients, calls, listener, listening, metrics };
}

describe('listening for device changes', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  it('LISTENs on the channel, then catches up: nothing cached counts as fresh, sessions are re-checked', async () => {
    const { clients, calls, listener, listening } = setup();
    close = () => listener.close();
    await until(listening, 'listening');
    expect(clients[0]!.queries).toEqual([`LISTEN ${CHANNEL}`]);
    expect(calls).toEqual(['distrust', 'revalidate']);
  });

  it('revokes and disconnects a revoked device, forgets the refusal of an enabled one, ignores the rest', async () => {
    const { clients, calls, listener, listening, metrics } = setup();
    close = () => listener.close();
    await until(listening, 'listening');
    calls.length = 0;
    clients[0]!.notify(CHANNEL, 'dev_a:revoked');
    clients[0]!.notify(CHANNEL, 'dev_b:enabled');
    clients[0]!.notify(CHANNEL, 'not a change');
    clients[0]!.notify('another_channel', 'dev_c:revoked');
    expect(calls).toEqual(['revoke dev_a', 'disconnect dev_a', 'forgetRefusal dev_b']);
    const counted = await metrics.registry.getSingleMetric('telemoat_device_changes_total')!.get();
    expect(counted.values.map((v) => [v.labels.change, v.value]).sort()).toEqual([
      ['enabled', 1],
      ['revoked', 1],
    ]);
  });

  it('reconnects after losing the connection, and catches up again', async () => {
    const { clients, calls, listener, listening } = setup();
    close = () => listener.close();
    await until(listening, 'listening');
    calls.length = 0;
    clients[0]!.emit('error', new Error('terminating connection due to administrator command'));
    clients[0]!.emit('end');
    expect(await listening()).toBe(false);
    expect(clients[0]!.ended).toBe(true);
    await until(listening, 'listening again');
    expect(clients).toHaveLength(2);
    expect(calls).toEqual(['distrust', 'revalidate']);
    clients[1]!.notify(CHANNEL, 'dev_a:revoked');
    expect(calls).toContain('revoke dev_a');
  });

  it('keeps trying while Postgres refuses, and stops for good once closed', async () => {
    const { clients, listener, listening } = setup(3);
    await until(listening, 'listening after three refusals');
    expect(clients).toHaveLength(4);
    await listener.close();
    expect(clients[3]!.ended).toBe(true);
    clients[3]!.emit('end');
    expect(clients).toHaveLength(4);
  });
});
