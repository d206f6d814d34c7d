import { perFile } from './lazy.js';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { Agent, createServer, request as httpRequest } from 'node:http';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { buildApi, type ApiDeps } from '../../api/app.js';
import { TokenService } from '../../api/auth/token.service.js';
import { ExportService } from '../../api/export/export.service.js';
import { LiveHub } from '../../api/live/live-hub.js';
import { ReadingsService } from '../../api/readings/readings.service.js';
import { closeServer, listen } from '../../common/listen.js';
import type { Logger } from '../../common/logger.js';
import { verifySecret } from '../../common/secret-hash.js';
import {
  FakeAuditLog,
  FakeProfileService,
  FakePasswordService,
  FakeSignupService,
  FakeUsers,
  fakePasswordHash,
} from '../../directory/accounts/accounts.fake.js';
import { FakeDevices, FakeDevicesService } from '../../directory/devices/devices.fake.js';
import type { Device } from '../../directory/devices/devices.repository.js';
import {
  FakeMetricUnits,
  FakeMetricUnitsService,
} from '../../directory/organisations/metric-units.fake.js';
import {
  FakeMembersService,
  FakeOrganisations,
  FakeOrganisationsService,
} from '../../directory/organisations/organisations.fake.js';
import type { Organisation } from '../../directory/organisations/organisations.repository.js';
import type { Role } from '../../directory/organisations/roles.js';
import { FakePlatformRoles, FakeSecurityEvents } from '../../directory/security/security.fake.js';
import { SessionService, type IssuedTokens } from '../../directory/sessions/session.service.js';
import {
  FakeOidcLogins,
  FakeSessions,
  FakeSignIns,
} from '../../directory/sessions/sessions.fake.js';
import { KnownBrowsers } from '../../directory/sessions/known-browser.js';
import { FakeOidcIdentities } from '../../directory/sessions/oidc-identities.fake.js';
import { PasswordGuard } from '../../directory/sessions/password-guard.js';
import { SignInService } from '../../directory/sessions/sign-in.service.js';
import {
  accountKeyOf,
  SignInThrottle,
  type ThrottlePolicy,
} from '../../directory/sessions/sign-in-throttle.service.js';
import { testClock } from './clock.js';
import { PASSWORD_COST } from '../../common/secret-hash.js';
import { PATIENCE_MS } from './wait.js';
import type { PresencePoint } from '../../influx/line-protocol.js';
import { FakeTelemetry } from '../../influx/tenant-telemetry.fake.js';
import type { Telemetry, TenantTelemetry } from '../../influx/tenant-telemetry.js';
import { defaultThrottlePolicy } from './throttle-policy.js';

export interface ApiAppOptions {
  /** Where the clock starts; by default a fixed instant. */
  now?: number;
  throttle?: Partial<ThrottlePolicy>;
  /** How often the live hub polls the fake telemetry. */
  livePollMs?: number;
}

export interface SeededUser {
  userId: string;
  email: string;
  name: string;
  password: string;
}

export interface SeededMember extends SeededUser {
  orgId: string;
  role: Role;
  /** A bearer access token of a live session of the member. */
  token: string;
}

/** A device as the directory holds it, with its secret (shown once) and its org's tenant key. */
export interface SeededDevice extends Device {
  secret: string;
  tenantKey: string;
}

export interface Answer {
  status: number;
  headers: Headers;
  /** The parsed JSON body; undefined when the answer is not JSON or empty. */
  body: unknown;
  text: string;
  /** The Set-Cookie headers, one string each. */
  cookies: string[];
}

export interface RequestOptions {
  token?: string;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as it is (a compressed body as bytes), with content-type application/json. */
  rawBody?: string | Buffer;
  query?: Record<string, string> | URLSearchParams;
  headers?: Record<string, string>;
}

/** A streamed answer (Server-Sent Events) read frame by frame. */
export interface EventStream {
  status: number;
  headers: Headers;
  /** Reads frames until one satisfies `match`; rejects after `withinMs` without one. */
  waitFor(match: (frame: string) => boolean, withinMs?: number): Promise<string>;
  /** The rest of an answer that ends (an error instead of a stream). */
  rest(): Promise<string>;
  close(): Promise<void>;
}

/** Failures to inject: while set, every call of that side rejects with the error. */
export interface Faults {
  telemetry?: Error | undefined;
  directory?: Error | undefined;
  /** An export that breaks off with `error` after handing out `chunks` chunks. */
  exportBreaks?: { chunks: number; error: Error } | undefined;
}

export const TERMS_VERSION = '2025-01';
export const DEFAULT_NOW = Date.parse('2026-06-01T12:00:00.000Z');
export const PASSWORD = 'correct horse battery staple';

export type ApiApp = Awaited<ReturnType<typeof startApiApp>>;

/**
 * The API as `bin/api.ts` builds it, over in-memory fakes instead of Postgres, InfluxDB and the
 * mail server: the real routes and middleware, the real token, readings, export, live, sign-in
 * and session services; only the stores (and the directory services that are mostly SQL) are
 * fakes. Listens on 127.0.0.1 on a free port; hands out seeding helpers and a client. For the
 * `api` test tier: no Postgres, no InfluxDB, no broker.
 */
export async function startApiApp(options: ApiAppOptions = {}) {
  const clock = testClock(options.now ?? DEFAULT_NOW);
  const now = clock.now;
  const faults: Faults = {};
  const logs: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'warn' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        logs.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    }),
  ) as Logger;

  // The stores: the tests seed them directly; the services see them through the faults.
  const telemetry = new FakeTelemetry();
  const audit = new FakeAuditLog(now);
  const users = new FakeUsers();
  const organisations = new FakeOrganisations(now);
  const devices = new FakeDevices(now);
  const metricUnits = new FakeMetricUnits();
  const sessions = new FakeSessions(now);
  const signIns = new FakeSignIns(now);
  const securityEvents = new FakeSecurityEvents(now);
  const platformRoles = new FakePlatformRoles();
  const directoryFault = () => faults.directory;
  const directory = {
    organisations: failing(organisations, directoryFault),
    devices: failing(devices, directoryFault),
    sessions: failing(sessions, directoryFault),
    metricUnits: failing(metricUnits, directoryFault),
  };
  const tenantTelemetry = failingTelemetry(telemetry, faults);

  const policy = { refreshTokenTtlSeconds: 1_209_600, sessionMaxAgeSeconds: 2_592_000 };
  const { privateKey } = generateKeyPairSync('ed25519');
  const tokens = new TokenService({
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    issuer: 'telemoat',
    audience: 'telemoat-api',
    ttlSeconds: 900,
    sessions: directory.sessions,
    logoutGraceSeconds: policy.sessionMaxAgeSeconds,
    now,
  });
  const sessionService = new SessionService({
    sessions: directory.sessions,
    tokens,
    signIns,
    securityEvents,
    policy,
  });
  const accountHashKey = randomBytes(32).toString('hex');
  // The real throttle over the fake security log: every password check goes through it.
  const passwords = new PasswordGuard({
    throttle: new SignInThrottle(securityEvents, { ...defaultThrottlePolicy, ...options.throttle }),
    securityEvents,
    accountHashKey,
  });
  const signIn = new SignInService({
    users,
    // The real check; the fake accounts' hashes are of its fast kind (fakePasswordHash).
    verifyPassword: verifySecret,
    decoyHash: fakePasswordHash(randomBytes(16).toString('hex')),
    // The fake accounts' hashes are not scrypt, so none is ever replaced.
    passwordCost: PASSWORD_COST,
    sessions: sessionService,
    passwords,
    knownBrowsers: new KnownBrowsers(accountHashKey, now),
    securityEvents,
    accountHashKey,
    oidc: {
      providers: new Map(),
      logins: new FakeOidcLogins(now),
      identities: new FakeOidcIdentities(now),
    },
    logger,
  });
  const live = new LiveHub({
    telemetry: tenantTelemetry,
    devices: directory.devices,
    logger,
    pollMs: options.livePollMs ?? 5,
    now,
  });
  const organisationsService = new FakeOrganisationsService({
    organisations,
    users,
    audit,
    now,
    termsVersion: TERMS_VERSION,
    invitationTtlDays: 7,
    passwords,
  });
  const profileService = new FakeProfileService({
    users,
    memberships: (userId) => organisations.membershipsOf(userId),
    audit,
    passwords,
  });
  const passwordService = new FakePasswordService({
    users,
    passwords,
    sessions: directory.sessions,
    audit,
  });
  const signupService = new FakeSignupService({ users, termsVersion: TERMS_VERSION });
  const devicesService = new FakeDevicesService(directory.devices, audit);

  const deps: ApiDeps = {
    logger,
    tokens,
    sessionService,
    signIn,
    passwordService,
    auth: { cookies: { secure: false } },
    organisations: directory.organisations,
    // DevicesRoutesDeps names the class, whose private pool no fake can have; the fake
    // implements its whole public surface (see FakeDevicesService).
    devicesService,
    readingsService: new ReadingsService({
      devices: directory.devices,
      metricUnits: directory.metricUnits,
      telemetry: tenantTelemetry,
      now,
    }),
    exportService: new ExportService({
      devices: directory.devices,
      telemetry: tenantTelemetry,
      now,
    }),
    now,
    metricUnitsService: new FakeMetricUnitsService(directory.metricUnits, audit),
    membersService: new FakeMembersService({ organisations, users, audit, now }),
    live,
    mqttPublicUrl: 'mqtt://broker.test:1883',
    profileService,
    signupService,
    privacyTermsVersion: TERMS_VERSION,
    organisationsService,
    sessions: directory.sessions,
    signIns,
    platformRoles,
    securityEvents,
    readiness: {},
    rateLimits: { perIpPerMinute: 1_000_000, perUserPerMinute: 1_000_000 },
    https: false,
  };
  const server = createServer(buildApi(deps));
  const port = await listen(server, 0, '127.0.0.1');
  const origin = `http://127.0.0.1:${port}`;
  const streams = new Set<EventStream>();
  const agent = new Agent({ keepAlive: true });

  const urlOf = (path: string, query?: RequestOptions['query']) => {
    const search = query ? new URLSearchParams(query).toString() : '';
    return `${origin}/api/v1${path}${search ? `?${search}` : ''}`;
  };
  const headersOf = (request: RequestOptions, hasBody: boolean) => ({
    ...(hasBody ? { 'content-type': 'application/json' } : {}),
    ...(request.token ? { authorization: `Bearer ${request.token}` } : {}),
    ...request.headers,
  });

  /** Starts a session for the user, as a password sign-in would: its tokens. */
  async function signInAs(userId: string): Promise<IssuedTokens> {
    const user = await users.findById(userId);
    if (!user) throw new Error(`no user ${userId}`);
    return sessionService.start({
      userId,
      method: 'password',
      userAgent: 'a program on an unknown system',
      ip: '127.0.0.1',
      accountKey: accountKeyOf(user.email, accountHashKey),
    });
  }

  let userCount = 0;
  async function user(
    input: { email?: string; name?: string; password?: string; verified?: boolean } = {},
  ): Promise<SeededUser> {
    const n = ++userCount;
    const email = input.email ?? `user-${n}-${randomBytes(3).toString('hex')}@example.test`;
    const name = input.name ?? `Person ${n}`;
    const password = input.password ?? PASSWORD;
    const userId = await users.create({
      email,
      displayName: name,
      passwordHash: fakePasswordHash(password),
      verified: input.verified ?? true,
      origin: 'signup',
      termsVersion: TERMS_VERSION,
    });
    return { userId, email, name, password };
  }

  return {
    /** http://127.0.0.1:port: the app's origin (the API is below /api/v1). */
    origin,
    clock,
    faults,
    /** What the app logged at warn and above, one parsed line each. */
    logs,
    stores: {
      telemetry,
      audit,
      users,
      organisations,
      devices,
      metricUnits,
      sessions,
      signIns,
      securityEvents,
      platformRoles,
    },
    services: {
      organisationsService,
      profileService,
      signupService,
      passwordService,
      sessionService,
      live,
    },
    accountKeyOf: (email: string) => accountKeyOf(email, accountHashKey),

    user,

    /** An organisation, without members. */
    async org(name = 'Greenhouse Ltd'): Promise<Organisation> {
      return organisations.create(name);
    },

    /** A new user with `role` in the organisation, signed in. */
    async member(
      orgId: string,
      role: Role,
      input: Parameters<typeof user>[0] = {},
    ): Promise<SeededMember> {
      const seeded = await user(input);
      await organisations.addMember(orgId, seeded.userId, role);
      const { accessToken } = await signInAs(seeded.userId);
      return { ...seeded, orgId, role, token: accessToken };
    },

    /** Tokens of a new session of the user. */
    signInAs,

    /** A signed-in user who belongs to no organisation. */
    async outsider(): Promise<SeededUser & { token: string }> {
      const seeded = await user();
      return { ...seeded, token: (await signInAs(seeded.userId)).accessToken };
    },

    async device(org: Organisation, name = 'Sensor'): Promise<SeededDevice> {
      const { device, secret } = await devices.provision(org.id, name);
      return { ...device, secret, tenantKey: org.tenantKey };
    },

    /** Stores readings of the device, as ingest would: under its pseudonyms only. */
    readings(
      device: Pick<SeededDevice, 'pseudonym' | 'tenantKey'>,
      points: { metric: string; value: number | boolean; time: number }[],
    ): void {
      telemetry.write(
        points.map((p) => ({ ...p, tenantKey: device.tenantKey, deviceKey: device.pseudonym })),
      );
    },

    presence(
      device: Pick<SeededDevice, 'pseudonym' | 'tenantKey'>,
      connected: boolean,
      time: number,
    ): void {
      const point: PresencePoint = {
        tenantKey: device.tenantKey,
        deviceKey: device.pseudonym,
        connected,
        time,
      };
      telemetry.writePresence([point]);
    },

    /**
     * Sends one request to `path` below /api/v1 and reads the whole answer. Plain node:http on
     * a keep-alive agent: a third cheaper than fetch, which counts with hundreds of requests.
     */
    async request(method: string, path: string, request: RequestOptions = {}): Promise<Answer> {
      const body =
        request.rawBody ?? (request.body === undefined ? undefined : JSON.stringify(request.body));
      const { status, headers, text } = await new Promise<{
        status: number;
        headers: Headers;
        text: string;
      }>((resolve, reject) => {
        const outgoing = httpRequest(
          urlOf(path, request.query),
          { method, headers: headersOf(request, body !== undefined), agent },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('error', reject);
            res.on('end', () => {
              const received = new Headers();
              for (const [name, value] of Object.entries(res.headers)) {
                for (const one of [value ?? []].flat()) received.append(name, one);
              }
              resolve({
                status: res.statusCode ?? 0,
                headers: received,
                text: Buffer.concat(chunks).toString('utf8'),
              });
            });
          },
        );
        outgoing.setTimeout(5000, () => outgoing.destroy(new Error(`${method} ${path} timed out`)));
        outgoing.on('error', reject);
        outgoing.end(body);
      });
      const json = (headers.get('content-type') ?? '').startsWith('application/json');
      return {
        status,
        headers,
        body: json && text ? (JSON.parse(text) as unknown) : undefined,
        text,
        cookies: headers.getSetCookie(),
      };
    },

    /** Opens a streamed answer and reads it frame by frame (frames end with a blank line). */
    async stream(path: string, request: RequestOptions = {}): Promise<EventStream> {
      const controller = new AbortController();
      const response = await fetch(urlOf(path, request.query), {
        headers: headersOf(request, false),
        signal: controller.signal,
      });
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      const decoder = new TextDecoder();
      let buffered = '';
      const frames: string[] = [];
      const nextFrame = async (): Promise<string | null> => {
        for (;;) {
          const frame = frames.shift();
          if (frame !== undefined) return frame;
          const { value, done } = await reader.read();
          if (done) return null;
          buffered += decoder.decode(value, { stream: true });
          const parts = buffered.split('\n\n');
          buffered = parts.pop()!;
          frames.push(...parts);
        }
      };
      const stream: EventStream = {
        status: response.status,
        headers: response.headers,
        async waitFor(match, withinMs = PATIENCE_MS) {
          const seen: string[] = [];
          let timer: NodeJS.Timeout | undefined;
          const timeout = new Promise<never>((_resolve, reject) => {
            timer = setTimeout(
              () => reject(new Error(`no matching frame in ${withinMs} ms; saw ${seen.join('|')}`)),
              withinMs,
            );
          });
          try {
            for (;;) {
              const frame = await Promise.race([nextFrame(), timeout]);
              if (frame === null) throw new Error(`stream ended; saw ${seen.join('|')}`);
              seen.push(frame);
              if (match(frame)) return frame;
            }
          } finally {
            clearTimeout(timer);
          }
        },
        async rest() {
          let text = [...frames.splice(0).map((frame) => `${frame}\n\n`), buffered].join('');
          buffered = '';
          for (;;) {
            const { value, done } = await reader.read();
            if (done) return text + decoder.decode();
            text += decoder.decode(value, { stream: true });
          }
        },
        async close() {
          streams.delete(stream);
          controller.abort();
          await reader.cancel().catch(() => undefined);
        },
      };
      streams.add(stream);
      return stream;
    },

    async close(): Promise<void> {
      await Promise.all([...streams].map((s) => s.close()));
      live.close();
      agent.destroy();
      const closed = closeServer(server);
      server.closeAllConnections();
      await closed;
    },
  };
}

/**
 * `target` with every method rejecting while `fault()` names an error: a store that is down.
 * Methods keep `this`, so the fake behind it is the one the tests seed.
 */
function failing<T extends object>(target: T, fault: () => Error | undefined): T {
  return new Proxy(target, {
    get(object, key, receiver) {
      const value: unknown = Reflect.get(object, key, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const error = fault();
        if (error) return Promise.reject(error);
        return (value as (...a: unknown[]) => unknown).apply(object, args);
      };
    },
  });
}

/** Telemetry whose every read fails while a fault is set: InfluxDB down, or breaking off. */
function failingTelemetry(inner: Telemetry, faults: Faults): Telemetry {
  const fault = () => faults.telemetry;
  const guard =
    <A extends unknown[], R>(read: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> => {
      const error = fault();
      return error ? Promise.reject(error) : read(...args);
    };
  return {
    forTenant(tenantKey): TenantTelemetry {
      const t = inner.forTenant(tenantKey);
      return {
        readings: {
          list: guard((range) => t.readings.list(range)),
          lastReadingTime: guard((deviceKey: string) => t.readings.lastReadingTime(deviceKey)),
          aggregateMany: guard((query) => t.readings.aggregateMany(query)),
          latest: guard(() => t.readings.latest()),
          metrics: guard(() => t.readings.metrics()),
        },
        presence: { latest: guard((deviceKey: string) => t.presence.latest(deviceKey)) },
        export: {
          stream(range) {
            const error = fault();
            if (error) {
              return { [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(error) }) };
            }
            const breaks = faults.exportBreaks;
            if (!breaks) return t.export.stream(range);
            return (async function* () {
              let handedOut = 0;
              for await (const chunk of t.export.stream(range)) {
                if (handedOut++ === breaks.chunks) throw breaks.error;
                yield chunk;
              }
              if (handedOut <= breaks.chunks) throw breaks.error;
            })();
          },
        },
        live: { since: guard((since: Date, limit: number) => t.live.since(since, limit)) },
      };
    },
  };
}

/** The app for one test file: started before its tests, closed after them. */
export function useApiApp(options: ApiAppOptions = {}): ApiApp {
  return perFile(() => startApiApp(options), 'the API app');
}
