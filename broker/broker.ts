import { createServer, type Server } from 'node:net';
import {
  Aedes,
  type AuthenticateError,
  type Client,
  type PublishPacket,
  type Subscription,
} from 'aedes';
import { deviceIdPattern } from '../common/ids.js';
import type { Logger } from '../common/logger.js';
import type { DeviceIdentity, Ingest } from '../ingest/ingest.pipeline.js';
import { mayDeviceSubscribe, telemetryTopic } from './topics.js';

/** Checks a device's credentials; injected so the broker never touches the directory. */
export type AuthenticateDevice = (
  deviceId: string,
  secret: string,
) => Promise<DeviceIdentity | null>;

export interface BrokerDeps {
  authenticateDevice: AuthenticateDevice;
  ingest: Ingest;
  logger: Logger;
}

export interface Broker {
  aedes: Aedes;
  server: Server;
  listen(port: number, host: string): Promise<number>;
  close(): Promise<void>;
}

/** CONNACK return code 5, "not authorized" (MQTT-3.2.2.3). */
const NOT_AUTHORIZED = 5;

function notAuthorized(): AuthenticateError {
  return Object.assign(new Error('not authorized'), { returnCode: NOT_AUTHORIZED });
}

/**
 * Builds the device-facing MQTT broker. Each hook is a short list of named steps; durable
 * acceptance happens in `authorizePublish`, because Aedes sends PUBACK right after it.
 */
export async function buildBroker(deps: BrokerDeps): Promise<Broker> {
  const log = deps.logger.child({ module: 'broker' });
  const identities = new WeakMap<Client, DeviceIdentity>();
  const aedes = await Aedes.createBroker({ drainTimeout: 30_000 });

  async function authenticate(client: Client, username?: string, password?: Buffer) {
    // MQTT-3.1.3-2: the client id names the session; it must be the device's own id.
    if (!username || !password || !deviceIdPattern.test(username) || client.id !== username) {
      return null;
    }
    return deps.authenticateDevice(username, password.toString('utf8'));
  }

  aedes.authenticate = (client, username, password, done) => {
    authenticate(client, username, password).then(
      (identity) => {
        if (!identity) {
          log.info({ clientId: client.id }, 'device refused');
          return done(notAuthorized(), false);
        }
        identities.set(client, identity);
        done(null, true);
      },
      (err: unknown) => {
        log.error({ err, clientId: client.id }, 'device authentication failed');
        done(notAuthorized(), false);
      },
    );
  };

  function requireIdentity(client: Client | null): DeviceIdentity {
    const identity = client && identities.get(client);
    if (!identity) throw new Error('publish without an authenticated device');
    return identity;
  }

  function requireOwnTopic(identity: DeviceIdentity, packet: PublishPacket): void {
    // MQTT-3.3.5-2: a refused publish closes the connection; 3.1.1 has no negative PUBACK.
    if (packet.topic !== telemetryTopic(identity.deviceId)) {
      throw new Error(`topic not allowed: ${packet.topic}`);
    }
  }

  async function ingestPayload(identity: DeviceIdentity, packet: PublishPacket): Promise<void> {
    const result = await deps.ingest.accept(identity, packet.payload as Buffer);
    if (!result.accepted) {
      // Acknowledged but not stored: re-sending the same bad message cannot fix it.
      log.warn(
        { deviceId: identity.deviceId, reason: result.reason, detail: result.detail },
        'reading rejected',
      );
    }
  }

  aedes.authorizePublish = (client, packet, done) => {
    let identity: DeviceIdentity;
    try {
      identity = requireIdentity(client);
      requireOwnTopic(identity, packet);
    } catch (err) {
      log.warn({ clientId: client?.id, topic: packet.topic }, (err as Error).message);
      return done(err as Error);
    }
    ingestPayload(identity, packet).then(
      () => done(null),
      (err: unknown) => {
        // Not durable, so no PUBACK: closing the connection makes the device send it again.
        log.error({ err, deviceId: identity.deviceId }, 'reading not stored; connection closed');
        done(err as Error);
      },
    );
  };

  aedes.authorizeSubscribe = (client, subscription: Subscription, done) => {
    const identity = client && identities.get(client);
    if (identity && mayDeviceSubscribe(identity.deviceId, subscription.topic)) {
      return done(null, subscription);
    }
    log.warn({ clientId: client?.id, topic: subscription.topic }, 'subscription refused');
    // MQTT-3.9.3: return code 0x80 for this filter, the connection stays open.
    done(null, null);
  };

  const server = createServer(aedes.handle);

  return {
    aedes,
    server,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const address = server.address();
          resolve(typeof address === 'object' && address ? address.port : port);
        });
      }),
    async close() {
      // Stop accepting first, then let Aedes end the open sessions so server.close can finish.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      await closed;
    },
  };
}
