import {
  Aedes,
  type AuthenticateError,
  type Client,
  type ConnectPacket,
  type PublishPacket,
  type Subscription,
} from 'aedes';
import type { Socket } from 'node:net';
import { deviceIdPattern } from '../common/ids.js';
import type { Logger } from '../common/logger.js';
import type { DeviceIdentity, Ingest, PayloadFormat } from '../ingest/ingest.pipeline.js';
import type { BrokerMetrics } from './broker.metrics.js';
import type { AuthOutcome, DeviceAuthenticator } from './device-authenticator.js';
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
  /** Ends the device's session, if it has one here; true when it had. */
  disconnect(deviceId: string): boolean;
  close(): Promise<void>;
}

/** CONNACK return codes (MQTT-3.2.2.3). */
const SERVER_UNAVAILABLE = 3;
const NOT_AUTHORIZED = 5;

function refusal(returnCode: number): AuthenticateError {
  return Object.assign(new Error('connection refused'), { returnCode });
}

/** Why a CONNECT was refused: the authenticator's reasons, and the broker's own. */
type Refused = Exclude<AuthOutcome, { ok: true }>['reason'] | 'malformed' | 'forbidden-will';
type ConnectOutcome = 'accepted' | Refused;

/**
 * MQTT-3.2.2.3: 5 tells the device it is not allowed, 3 to come back later (MQTT 5 would say
 * 0x87, and 0x88, 0x89 "server busy" or 0x9F "connection rate exceeded"; Aedes speaks 3.1.1).
 */
const returnCodes: Record<Refused, number> = {
  malformed: NOT_AUTHORIZED,
  'forbidden-will': NOT_AUTHORIZED,
  unknown: NOT_AUTHORIZED,
  disabled: NOT_AUTHORIZED,
  'bad-secret': NOT_AUTHORIZED,
  unavailable: SERVER_UNAVAILABLE,
  busy: SERVER_UNAVAILABLE,
  throttled: SERVER_UNAVAILABLE,
};

/** One CONNECT on its way through the steps: each fills in what the next ones read. */
interface Connecting {
  readonly client: Client;
  readonly username: string | undefined;
  readonly password: Buffer | undefined;
  deviceId: string;
  secret: string;
  /** Whether the directory itself gave the answer, rather than a cache or the throttle. */
  askedDirectory: boolean;
}

/** A step either refuses the CONNECT, saying why, or leaves it to the next one. */
type ConnectStep = (connecting: Connecting) => Refused | undefined | Promise<Refused | undefined>;

/** The client's network address: a key of the connect throttle in memory, never logged. */
function addressOf(client: Client): string {
  // Over WebSocket Aedes gets the upgrade request; over TCP and TLS the connection is a socket.
  const socket = client.req?.socket ?? (client.conn as Partial<Socket>);
  return socket.remoteAddress ?? 'unknown';
}

/**
 * The device-facing MQTT broker. Each hook is a short list of named steps. Durable acceptance
 * happens in `authorizePublish` because Aedes sends PUBACK as soon as it completes.
 */
export async function buildBroker(deps: BrokerDeps): Promise<Broker> {
  const log = deps.logger.child({ module: 'broker' });
  const { metrics } = deps;
  const identities = new WeakMap<Client, DeviceIdentity>();
  const wills = new WeakMap<Client, NonNullable<ConnectPacket['will']>>();
  const sessions = new Map<string, Client>();
  const aedes = await Aedes.createBroker({ drainTimeout: 30_000 });

  // --- CONNECT ---------------------------------------------------------------------------

  function readCredentials(connecting: Connecting): Refused | undefined {
    const { client, username, password } = connecting;
    // MQTT-3.1.3-2: the client id names the session; it must be the device's own id.
    if (!username || !password || !deviceIdPattern.test(username) || client.id !== username) {
      return 'malformed';
    }
    connecting.deviceId = username;
    connecting.secret = password.toString('utf8');
    return undefined;
  }

  function requireOwnWill({ client, deviceId }: Connecting): Refused | undefined {
    const will = wills.get(client);
    wills.delete(client);
    if (!will || publishFormat(deviceId, will.topic)) return undefined;
    // MQTT-3.1.2-8: an accepted will must be published when the connection ends abnormally;
    // one on a topic the device may not publish to never could be, so it is refused now.
    metrics.forbidden.inc({ kind: 'will' });
    return 'forbidden-will';
  }

  async function authenticateDevice(connecting: Connecting): Promise<Refused | undefined> {
    const { client, deviceId, secret } = connecting;
    const outcome = await deps.authenticator.authenticate(deviceId, secret, addressOf(client));
    if (outcome.ok) {
      identities.set(client, outcome.identity);
      return undefined;
    }
    if ('source' in outcome) {
      connecting.askedDirectory = outcome.source === 'directory';
      if (outcome.source === 'negative-cache') metrics.connectsRefusedFromCache.inc();
    }
    return outcome.reason;
  }

  const connectSteps: readonly ConnectStep[] = [
    readCredentials,
    requireOwnWill,
    authenticateDevice,
  ];

  async function admit(connecting: Connecting): Promise<ConnectOutcome> {
    for (const step of connectSteps) {
      const refused = await step(connecting);
      if (refused) return refused;
    }
    return 'accepted';
  }

  // Aedes hands the CONNECT packet only to this hook; authenticate() sees the credentials.
  aedes.preConnect = (client, packet, done) => {
    if (packet.will) wills.set(client, packet.will);
    done(null, true);
  };

  aedes.authenticate = (client, username, password, done) => {
    const connecting: Connecting = {
      client,
      username,
      password,
      deviceId: '',
      secret: '',
      askedDirectory: false,
    };
    admit(connecting).then(
      (outcome) => {
        metrics.connects.inc({ outcome });
        if (outcome === 'accepted') return done(null, true);
        // The throttle bounds the refusals the directory gives, so those are logged; the others
        // cost nothing to repeat, so a flood of them would only flood the log (they are counted).
        const level = connecting.askedDirectory ? 'info' : 'debug';
        log[level]({ deviceId: connecting.deviceId || undefined, outcome }, 'device refused');
        done(refusal(returnCodes[outcome]), false);
      },
      (err: unknown) => {
        metrics.connects.inc({ outcome: 'unavailable' });
        log.error({ err, deviceId: connecting.deviceId }, 'device authentication failed');
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
    disconnect(deviceId) {
      const client = sessions.get(deviceId);
      client?.close();
      return client !== undefined;
    },
    async close() {
      clearInterval(revalidation);
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
    },
  };
}
