import {
  Aedes,
  type AuthenticateError,
  type Client,
  type PublishPacket,
  type Subscription,
} from 'aedes';
import { deviceIdPattern } from '../common/ids.js';
import type { Logger } from '../common/logger.js';
import type { DeviceIdentity, Ingest, PayloadFormat } from '../ingest/ingest.pipeline.js';
import type { BrokerMetrics } from './broker.metrics.js';
import type { DeviceAuthenticator } from './device-authenticator.js';
import type { IngestWindow } from './ingest-window.js';
import { mayDeviceSubscribe, publishFormat } from './topics.js';

/** Records that a device connected or disconnected; never given its address (P2). */
export type RecordPresence = (identity: DeviceIdentity, connected: boolean) => Promise<void>;

export interface BrokerDeps {
  authenticator: Pick<DeviceAuthenticator, 'authenticate' | 'revalidate'>;
  ingest: Pick<Ingest, 'accept'>;
  recordPresence: RecordPresence;
  metrics: BrokerMetrics;
  /** Bounds the publishes being made durable at once. */
  window: IngestWindow;
  logger: Logger;
  /** How often connected devices are re-checked against the directory. */
  revalidateEveryMs: number;
}

export interface Broker {
  aedes: Aedes;
  /** Devices connected now, by device id. */
  connected(): ReadonlyMap<string, Client>;
  /** Re-checks every connected device now and disconnects the revoked ones. */
  revalidate(): Promise<string[]>;
  close(): Promise<void>;
}

/** CONNACK return codes (MQTT-3.2.2.3). */
const SERVER_UNAVAILABLE = 3;
const NOT_AUTHORIZED = 5;

function refusal(returnCode: number): AuthenticateError {
  return Object.assign(new Error('connection refused'), { returnCode });
}

/**
 * The device-facing MQTT broker. Each hook is a short list of named steps. Durable acceptance
 * happens in `authorizePublish` because Aedes sends PUBACK as soon as it completes.
 */
export async function buildBroker(deps: BrokerDeps): Promise<Broker> {
  const log = deps.logger.child({ module: 'broker' });
  const { metrics } = deps;
  const identities = new WeakMap<Client, DeviceIdentity>();
  const sessions = new Map<string, Client>();
  const aedes = await Aedes.createBroker({ drainTimeout: 30_000 });

  // --- CONNECT ---------------------------------------------------------------------------

  function credentialsOf(client: Client, username?: string, password?: Buffer) {
    // MQTT-3.1.3-2: the client id names the session; it must be the device's own id.
    if (!username || !password || !deviceIdPattern.test(username) || client.id !== username) {
      return null;
    }
    return { deviceId: username, secret: password.toString('utf8') };
  }

  aedes.authenticate = (client, username, password, done) => {
    const credentials = credentialsOf(client, username, password);
    if (!credentials) {
      metrics.connects.inc({ outcome: 'malformed' });
      return done(refusal(NOT_AUTHORIZED), false);
    }
    deps.authenticator.authenticate(credentials.deviceId, credentials.secret).then(
      (outcome) => {
        metrics.connects.inc({ outcome: outcome.ok ? 'accepted' : outcome.reason });
        if (!outcome.ok) {
          log.info({ deviceId: credentials.deviceId, reason: outcome.reason }, 'device refused');
          // MQTT-3.2.2.3: 3 tells the device to come back later, 5 that it is not allowed.
          return done(
            refusal(outcome.reason === 'unavailable' ? SERVER_UNAVAILABLE : NOT_AUTHORIZED),
            false,
          );
        }
        identities.set(client, outcome.identity);
        done(null, true);
      },
      (err: unknown) => {
        log.error({ err, deviceId: credentials.deviceId }, 'device authentication failed');
        done(refusal(SERVER_UNAVAILABLE), false);
      },
    );
  };

  // --- PUBLISH ---------------------------------------------------------------------------

  function requireIdentity(client: Client | null): DeviceIdentity {
    const identity = client && identities.get(client);
    if (!identity) throw new Error('publish without an authenticated device');
    return identity;
  }

  function requireOwnTopic(identity: DeviceIdentity, packet: PublishPacket): PayloadFormat {
    const format = publishFormat(identity.deviceId, packet.topic);
    if (!format) {
      metrics.forbidden.inc({ kind: 'publish' });
      throw new Error(`topic not allowed: ${packet.topic}`);
    }
    return format;
  }

  async function ingestPayload(identity: DeviceIdentity, format: PayloadFormat, payload: Buffer) {
    const result = await deps.ingest.accept(identity, format, payload);
    if (result.accepted) {
      metrics.messagesAccepted.inc({ format });
      metrics.readingsAccepted.inc(result.readings);
      return;
    }
    // Acknowledged but not stored: re-sending the same bad message could not fix it.
    metrics.messagesRejected.inc({ reason: result.reason });
    metrics.deviceRejections.inc({ device_id: identity.deviceId });
    log.warn(
      { deviceId: identity.deviceId, reason: result.reason, detail: result.detail },
      'message rejected',
    );
  }

  aedes.authorizePublish = (client, packet, done) => {
    let identity: DeviceIdentity;
    let format: PayloadFormat;
    try {
      identity = requireIdentity(client);
      format = requireOwnTopic(identity, packet);
    } catch (err) {
      log.warn({ clientId: client?.id, topic: packet.topic }, (err as Error).message);
      // MQTT-3.3.5-2: a refused publish closes the connection; 3.1.1 has no negative PUBACK.
      return done(err as Error);
    }
    deps.window.enter();
    ingestPayload(identity, format, packet.payload as Buffer).then(
      () => {
        deps.window.leave();
        done(null);
      },
      (err: unknown) => {
        deps.window.leave();
        // Not durable, so no PUBACK: the device will send it again after reconnecting.
        metrics.notAcknowledged.inc();
        log.error(
          { err, deviceId: identity.deviceId },
          'message not made durable; connection closed',
        );
        done(err as Error);
      },
    );
  };

  // --- SUBSCRIBE -------------------------------------------------------------------------

  aedes.authorizeSubscribe = (client, subscription: Subscription, done) => {
    const identity = client && identities.get(client);
    if (identity && mayDeviceSubscribe(identity.deviceId, subscription.topic)) {
      return done(null, subscription);
    }
    metrics.forbidden.inc({ kind: 'subscribe' });
    log.warn({ clientId: client?.id, topic: subscription.topic }, 'subscription refused');
    // MQTT-3.9.3-1: return code 0x80 for this filter; the connection stays open.
    done(null, null);
  };

  // --- Presence and sessions ---------------------------------------------------------------

  function presence(identity: DeviceIdentity, connected: boolean) {
    deps.recordPresence(identity, connected).catch((err: unknown) => {
      log.warn({ err, deviceId: identity.deviceId }, 'presence not recorded');
    });
  }

  // Publishes reach authorizePublish only after CONNACK, so this is early enough.
  aedes.on('client', (client) => deps.window.attach(client.conn));

  aedes.on('clientReady', (client) => {
    const identity = identities.get(client);
    if (!identity) return;
    sessions.set(identity.deviceId, client);
    metrics.connections.set(sessions.size);
    presence(identity, true);
  });

  aedes.on('clientDisconnect', (client) => {
    const identity = identities.get(client);
    // A takeover (same client id, MQTT-3.1.4-2) leaves the newer session in place.
    if (!identity || sessions.get(identity.deviceId) !== client) return;
    sessions.delete(identity.deviceId);
    metrics.connections.set(sessions.size);
    presence(identity, false);
  });

  async function revalidate(): Promise<string[]> {
    const revoked = await deps.authenticator.revalidate([...sessions.keys()]);
    for (const deviceId of revoked) {
      log.info({ deviceId }, 'device revoked; disconnecting');
      sessions.get(deviceId)?.close();
    }
    return [...revoked];
  }

  const revalidation = setInterval(() => {
    revalidate().catch((err: unknown) => log.warn({ err }, 'revalidation failed'));
  }, deps.revalidateEveryMs);
  revalidation.unref();

  return {
    aedes,
    connected: () => sessions,
    revalidate,
    async close() {
      clearInterval(revalidation);
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
    },
  };
}
