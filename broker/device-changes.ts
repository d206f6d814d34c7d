import type { Logger } from '../common/logger.js';
import type { Broker } from './broker.js';
import type { BrokerMetrics } from './broker.metrics.js';
import type { DeviceAuthenticator } from './device-authenticator.js';

/** A device's credentials changed: revoked (rotated, disabled, deleted) or enabled again. */
export interface DeviceChange {
  deviceId: string;
  revoked: boolean;
}

/**
 * The part of a Postgres client the listener uses; `pg.Client` has it. The broker is handed a
 * way to make one and never imports the driver (its zone may not).
 */
export interface NotificationClient {
  connect(): Promise<unknown>;
  query(sql: string): Promise<unknown>;
  on(
    event: 'notification',
    listener: (message: { channel: string; payload?: string }) => void,
  ): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  end(): Promise<void>;
}

export interface DeviceChangesOptions {
  /** A new, unconnected client each time; it connects as the broker's role. */
  connect: () => NotificationClient;
  /** The channel the directory announces changes on. */
  channel: string;
  /** The change a payload names, or null; the directory defines the format. */
  parse: (payload: string) => DeviceChange | null;
  authenticator: Pick<DeviceAuthenticator, 'revoke' | 'forgetRefusal' | 'distrust'>;
  broker: Pick<Broker, 'disconnect' | 'revalidate'>;
  metrics: BrokerMetrics;
  logger: Logger;
  /** How often the connection is checked, so one that died silently is noticed. */
  heartbeatMs: number;
  /** The wait before reconnecting: `min` after the first failure, doubling up to `max`. */
  retryMs: { min: number; max: number };
}

/**
 * Hears the directory's device changes (Postgres LISTEN) and applies each at once: a revoked
 * device leaves the caches and its session ends; an enabled one is no longer refused from the
 * negative cache. One connection, re-established with backoff whenever it is lost. Postgres
 * does not keep notifications for a session that is not there, so each time the listener is
 * back it has the broker re-check every connected device and treat no cached success as fresh;
 * the periodic re-check stays the safety net all the same.
 */
export function listenForDeviceChanges(options: DeviceChangesOptions) {
  const log = options.logger.child({ module: 'device-changes' });
  const { metrics } = options;
  // LISTEN takes an identifier, which cannot be a bind parameter: allow only plain names.
  if (!/^[a-z_][a-z0-9_]*$/.test(options.channel)) throw new Error('bad channel name');
  let client: NotificationClient | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let retry: NodeJS.Timeout | undefined;
  let failures = 0;
  let closed = false;

  function apply(change: DeviceChange): void {
    if (change.revoked) {
      options.authenticator.revoke(change.deviceId);
      const disconnected = options.broker.disconnect(change.deviceId);
      log.info({ deviceId: change.deviceId, disconnected }, 'device revoked');
    } else {
      options.authenticator.forgetRefusal(change.deviceId);
    }
    metrics.deviceChanges.inc({ change: change.revoked ? 'revoked' : 'enabled' });
  }

  function onNotification(message: { channel: string; payload?: string }): void {
    const change = message.channel === options.channel && options.parse(message.payload ?? '');
    if (change) apply(change);
    else log.warn({ channel: message.channel }, 'notification ignored: not a device change');
  }

  function caughtUp(): void {
    options.authenticator.distrust();
    options.broker.revalidate().catch((err: unknown) => log.warn({ err }, 'revalidation failed'));
  }

  async function start(): Promise<void> {
    const current = options.connect();
    client = current;
    current.on('notification', onNotification);
    current.on('error', (err) => lost(current, err));
    current.on('end', () => lost(current));
    try {
      await current.connect();
      await current.query(`LISTEN ${options.channel}`);
    } catch (err) {
      return lost(current, err);
    }
    if (client !== current) return;
    failures = 0;
    metrics.deviceChangesListening.set(1);
    heartbeat = setInterval(() => {
      current.query('SELECT 1').catch((err: unknown) => lost(current, err));
    }, options.heartbeatMs);
    heartbeat.unref();
    log.info({ channel: options.channel }, 'listening for device changes');
    caughtUp();
  }

  function lost(which: NotificationClient, err?: unknown): void {
    // A failing client reports more than once (an error, then its end): act on the first.
    if (client !== which) return;
    client = undefined;
    clearInterval(heartbeat);
    metrics.deviceChangesListening.set(0);
    which.end().catch(() => undefined);
    if (closed) return;
    const delayMs = Math.min(options.retryMs.max, options.retryMs.min * 2 ** failures++);
    log.warn({ err, retryInMs: delayMs }, 'not listening for device changes; reconnecting');
    retry = setTimeout(() => void start(), delayMs);
    retry.unref();
  }

  void start();

  return {
    async close(): Promise<void> {
      closed = true;
      clearTimeout(retry);
      clearInterval(heartbeat);
      const current = client;
      client = undefined;
      metrics.deviceChangesListening.set(0);
      await current?.end().catch(() => undefined);
    },
  };
}
