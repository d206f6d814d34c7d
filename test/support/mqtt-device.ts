import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

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
    connectTimeout: 5000,
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

/** Resolves when `client` loses its connection (or at once if it already has). */
export function closed(client: MqttClient, timeoutMs = 5000): Promise<boolean> {
  if (!client.connected) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    client.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Polls until `check` passes or the deadline is reached; returns the last answer. */
export async function eventually<T>(
  ms: number,
  probe: () => Promise<T>,
  check: (value: T) => boolean,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (check(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
