import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { PATIENCE_MS } from './wait.js';

export interface DeviceCredentials {
  id: string;
  secret: string;
}

/** Connects as a device and resolves on CONNACK 0, or rejects with the refusal. */
export async function connectDevice(
  url: string,
  device: DeviceCredentials,
  options: IClientOptions = {},
): Promise<MqttClient> {
  const client = mqtt.connect(url, {
    clientId: device.id,
    username: device.id,
    password: device.secret,
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: PATIENCE_MS,
    ...options,
  });
  return new Promise((resolve, reject) => {
    const refused = (err: Error) => {
      client.end(true);
      reject(err);
    };
    client.once('error', refused);
    client.once('connect', () => {
      // Later errors belong to the caller: a reconnecting client must survive them.
      client.off('error', refused);
      client.on('error', () => {});
      resolve(client);
    });
  });
}

/**
 * Resolves true when `client` loses its connection (at once if it already has), false when it
 * is still connected after `timeoutMs` or PATIENCE_MS, whichever is longer: callers expect the
 * close, and a loaded machine may take far longer than they guess.
 */
export function closed(client: MqttClient, timeoutMs = PATIENCE_MS): Promise<boolean> {
  if (!client.connected) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), Math.max(timeoutMs, PATIENCE_MS));
    client.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * Polls until `check` passes or the deadline is reached; returns the last answer. The deadline
 * is `ms` or PATIENCE_MS, whichever is longer: it only decides how soon a failing test gives
 * up, and a loaded machine may take far longer than a caller's guess.
 */
export async function eventually<T>(
  ms: number,
  probe: () => Promise<T>,
  check: (value: T) => boolean,
): Promise<T> {
  const deadline = Date.now() + Math.max(ms, PATIENCE_MS);
  for (;;) {
    const value = await probe();
    if (check(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
