/**
 * Benchmark 2, dashboard queries: the overview's request for one metric of 50 devices as
 * 1-minute aggregates, here over 24 hours, through the API (JWT, directory lookup, InfluxQL,
 * filling empty windows, JSON) under autocannon, against exactly the InfluxQL the API sends for
 * it, posted straight to InfluxDB. Idle, then again while benchmark 1's load runs at half its
 * sustained rate.
 */
import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import pg from 'pg';
import { apiConfigSchema, type ApiConfig } from '../api/api.config.js';
import { loadConfig } from '../common/config.js';
import { hashSecret } from '../common/secret-hash.js';
import { directoryCryptoFrom } from '../directory/crypto/crypto.config.js';
import { DevicesRepository, type Device } from '../directory/devices/devices.repository.js';
import { OrganisationsRepository } from '../directory/organisations/organisations.repository.js';
import { UsersRepository } from '../directory/accounts/users.repository.js';
import { InfluxClient, type QueryParams } from '../influx/influx.client.js';
import { toLine } from '../influx/line-protocol.js';
import { chooseSource, ReadingsReader } from '../influx/readings.reader.js';
import { backfillRollup, RAW_POLICY } from '../influx/retention.js';
import { INFLUX_DATABASE, type Benchmark, type BenchContext } from './context.js';
import { fmt, log, processCpuSeconds, renderBarChart, sleep, textTable } from './kit.js';
import { runLoad, type LoadResult } from './load.js';
import { DAY_MS } from '../common/time.js';

/** The most devices one readings request takes (api/readings/readings.routes.ts). */
const DEVICES = 50;
const METRIC = 'temperature';
const SEED_METRICS = [METRIC, 'humidity'];
/** A reading a minute: every window holds one per device, and seeding takes seconds. */
const SEED_INTERVAL_MS = 60_000;
const WINDOWS = DAY_MS / 60_000;
/** Answers in flight: a few dashboards refreshing at once; more only queue on 2 cores. */
const CONNECTIONS = 2;
const runSeconds = (quick: boolean) => (quick ? 5 : 15);
/** Used when benchmark 1 did not run in this invocation. */
const FALLBACK_HALF_LOAD = 5000;

interface Figures {
  p50Ms: number;
  p99Ms: number;
  answersPerSecond: number;
  answers: number;
  /** Non-2xx answers, connection errors and timeouts: with any, the run measured failures. */
  failed: number;
}

interface Comparison {
  api: Figures;
  /** The API's InfluxQL, posted straight to InfluxDB as the API's InfluxDB user. */
  influx: Figures;
  /** API − InfluxDB; the goal is at most 3 ms. */
  p50DifferenceMs: number;
  /** API over InfluxDB answers per second; the goal is at least 0.8. */
  throughputRatio: number;
}

interface HttpTarget {
  /** Scheme, host and port; each request has its own path. */
  origin: string;
  requests: {
    method: 'GET' | 'POST';
    path: string;
    headers: Record<string, string>;
    body?: string;
  }[];
}

/** Captures the statements a ReadingsReader would send instead of sending them. */
class RecordingClient extends InfluxClient {
  readonly sent: { statement: string; params: QueryParams }[] = [];

  override query(statement: string, options: { params?: QueryParams } = {}) {
    this.sent.push({ statement, params: options.params ?? {} });
    return Promise.resolve([]);
  }
}

export const queriesBenchmark: Benchmark = {
  name: 'queries',
  async run(context) {
    const config = loadConfig('api', apiConfigSchema, context.env);
    const pool = new pg.Pool({ connectionString: context.env.API_DATABASE_URL, max: 2 });
    try {
      // Devices past the ones benchmark 1 and the half load publish for, so nothing else
      // writes into the series being read.
      const loadDeviceCount = context.quick ? 200 : 1000;
      const all = await context.devices(loadDeviceCount + DEVICES);
      const ids = all.slice(loadDeviceCount).map((d) => d.id);
      const devices = await new DevicesRepository(pool).findManyInOrg(context.org.id, ids);
      const to = Math.floor(Date.now() / 60_000) * 60_000;
      const range = { from: new Date(to - DAY_MS), to: new Date(to) };

      log(`queries: seeding ${DEVICES} devices with 24 h of readings`);
      const seed = await seedReadings(context, devices, range);
      const source = chooseSource(range.from, range.to, '1m', {
        rawDays: config.RAW_RETENTION_DAYS,
        now: Date.now(),
      });
      if (source !== RAW_POLICY) {
        await backfillRollup(context.influxAdmin, INFLUX_DATABASE, source, range);
      }

      const recorder = new RecordingClient({
        url: config.INFLUX_URL,
        username: config.INFLUX_API_USER,
        password: config.INFLUX_API_PASSWORD,
      });
      const reader = new ReadingsReader(recorder, config.INFLUX_DATABASE, {
        rawRetentionDays: config.RAW_RETENTION_DAYS,
      });
      await reader.aggregateMany({
        tenantKey: context.org.tenantKey,
        deviceKeys: devices.map((d) => d.pseudonym),
        metric: METRIC,
        ...range,
        window: '1m',
      });

      const token = await viewerToken(context, pool);
      const search = new URLSearchParams({
        devices: ids.join(','),
        metric: METRIC,
        window: '1m',
        from: range.from.toISOString(),
        to: range.to.toISOString(),
      });
      const api: HttpTarget = {
        origin: context.api.url,
        requests: [
          {
            method: 'GET',
            path: `/api/v1/orgs/${context.org.id}/readings?${search.toString()}`,
            headers: { authorization: `Bearer ${token}` },
          },
        ],
      };
      const influx = influxTarget(config, recorder.sent);
      // InfluxDB first: the first read of fresh data is slow, and the API gives up after 10 s.
      await checkInflux(influx, seed.readingsPerMetric);
      await checkApi(api, seed.readingsPerMetric);

      const seconds = runSeconds(context.quick);
      log('queries: idle');
      const idle = await compare(api, influx, seconds);

      const halfLoad = halfLoadRate(context.results.ingest);
      log(`queries: while ingest runs at ${fmt(halfLoad.rate)} msg/s`);
      const loaded = await underLoad(context, loadDeviceCount, halfLoad.rate, () =>
        compare(api, influx, seconds),
      );

      const json = {
        query: {
          route: 'GET /api/v1/orgs/:orgId/readings?devices=…&metric=temperature&window=1m',
          devices: DEVICES,
          metric: METRIC,
          window: '1m',
          from: range.from.toISOString(),
          to: range.to.toISOString(),
          source,
          statementsPerAnswer: recorder.sent.length,
          windowsPerDevice: WINDOWS,
          readingsAggregatedPerAnswer: seed.readingsPerMetric,
          statement: recorder.sent[0]?.statement,
        },
        seed,
        autocannon: { connections: CONNECTIONS, seconds },
        idle,
        halfLoad: { ...loaded.comparison, load: { ...halfLoad, ...loaded.load } },
      };
      return {
        json,
        lines: reportLines(idle, loaded.comparison, { ...halfLoad, ...loaded.load }),
        charts: {
          queries: renderBarChart(
            `Dashboard query, 50 devices × 24 h of 1-minute aggregates: answers per second (${context.quick ? 'quick' : 'full'} run, higher is better)`,
            [...bars('idle', idle), ...bars('ingest at half load', loaded.comparison)],
          ),
        },
      };
    } finally {
      await pool.end();
    }
  },
};

/**
 * 24 hours of readings of each metric, written as admin into the raw policy in ingest's line
 * format, shifted by a second per device so their timestamps differ.
 */
async function seedReadings(
  context: BenchContext,
  devices: Device[],
  range: { from: Date; to: Date },
) {
  const started = performance.now();
  let next = 0;
  let readings = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < devices.length) {
        const index = next++;
        const device = devices[index]!;
        const lines: string[] = [];
        for (
          let time = range.from.getTime() + (index % 10) * 1000;
          time < range.to.getTime();
          time += SEED_INTERVAL_MS
        ) {
          const daily = Math.sin((2 * Math.PI * (time % DAY_MS)) / DAY_MS);
          const values = [20 + 4 * daily + Math.random(), 50 - 10 * daily + 2 * Math.random()];
          SEED_METRICS.forEach((metric, m) =>
            lines.push(
              toLine({
                tenantKey: context.org.tenantKey,
                deviceKey: device.pseudonym,
                metric,
                value: Math.round(values[m]! * 100) / 100,
                time,
              }),
            ),
          );
        }
        await context.influxAdmin.write(INFLUX_DATABASE, lines.join('\n'), {
          retentionPolicy: RAW_POLICY,
          gzip: true,
        });
        readings += lines.length;
      }
    }),
  );
  return {
    devices: devices.length,
    metrics: SEED_METRICS,
    intervalSeconds: SEED_INTERVAL_MS / 1000,
    readings,
    readingsPerMetric: readings / SEED_METRICS.length,
    seconds: (performance.now() - started) / 1000,
  };
}

/** A viewer of the organisation, signed in through the login route like the dashboard. */
async function viewerToken(context: BenchContext, pool: pg.Pool): Promise<string> {
  const crypto = directoryCryptoFrom(loadConfig('api', apiConfigSchema, context.env));
  const email = `bench-${randomBytes(4).toString('hex')}@example.test`;
  const password = randomBytes(16).toString('base64url');
  const userId = await new UsersRepository(pool, crypto).create({
    email,
    displayName: 'Bench viewer',
    passwordHash: await hashSecret(password),
    verified: true,
  });
  await new OrganisationsRepository(pool, crypto).addMember(context.org.id, userId, 'viewer');
  const response = await fetch(`${context.api.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password, refreshTokenIn: 'body' }),
  });
  if (response.status !== 200) throw new Error(`login: ${response.status}`);
  return ((await response.json()) as { accessToken: string }).accessToken;
}

/** The API's statement straight to InfluxDB as the API's InfluxDB user, posted as its client
 * posts it. */
function influxTarget(config: ApiConfig, sent: RecordingClient['sent']): HttpTarget {
  if (sent.length !== 1) throw new Error(`the API sent ${sent.length} statements, not one`);
  const [{ statement, params }] = sent as [RecordingClient['sent'][number]];
  const credentials = `${config.INFLUX_API_USER}:${config.INFLUX_API_PASSWORD}`;
  const headers = {
    authorization: `Basic ${Buffer.from(credentials).toString('base64')}`,
    'content-type': 'application/x-www-form-urlencoded',
  };
  return {
    origin: config.INFLUX_URL,
    requests: [
      {
        method: 'POST',
        path: '/query',
        headers,
        body: new URLSearchParams({
          q: statement,
          db: config.INFLUX_DATABASE,
          epoch: 'ms',
          params: JSON.stringify(params),
        }).toString(),
      },
    ],
  };
}

function fetchAnswer(target: HttpTarget): Promise<unknown[]> {
  return Promise.all(
    target.requests.map(async ({ path, ...init }) => {
      const response = await fetch(target.origin + path, init);
      if (response.status !== 200) {
        throw new Error(`${path.split('?')[0]}: ${response.status} ${await response.text()}`);
      }
      return response.json();
    }),
  );
}

/** Every device with every window, and every seeded reading counted: a real answer. */
async function checkApi(target: HttpTarget, readings: number): Promise<void> {
  const [body] = (await fetchAnswer(target)) as { devices: { points: { count: number }[] }[] }[];
  if (!body) throw new Error('API: no answer');
  const points = body.devices.flatMap((d) => d.points);
  const counted = points.reduce((total, p) => total + p.count, 0);
  if (
    body.devices.length !== DEVICES ||
    body.devices.some((d) => d.points.length !== WINDOWS) ||
    counted !== readings
  ) {
    throw new Error(
      `API answered ${body.devices.length} devices, ${points.length} points, ${counted} readings`,
    );
  }
}

async function checkInflux(target: HttpTarget, readings: number): Promise<void> {
  const bodies = (await fetchAnswer(target)) as {
    results: { error?: string; series?: { columns: string[]; values: unknown[][] }[] }[];
  }[];
  const results = bodies.flatMap((b) => b.results);
  const series = results.flatMap((r) => r.series ?? []);
  const rows = series.flatMap((s) => {
    const column = s.columns.indexOf('count');
    return s.values.map((row) => row[column] as number);
  });
  const counted = rows.reduce((total, count) => total + count, 0);
  if (
    results.some((r) => r.error) ||
    series.length !== DEVICES ||
    rows.length !== DEVICES * WINDOWS ||
    counted !== readings
  ) {
    throw new Error(`InfluxDB answered ${series.length} series, ${rows.length} rows, ${counted}`);
  }
}

async function cannon(target: HttpTarget, seconds: number): Promise<Figures> {
  const result = await autocannon({
    url: target.origin,
    requests: target.requests,
    connections: CONNECTIONS,
    duration: seconds,
    // A slow answer under load is a measurement, not an error.
    timeout: 60,
  });
  return {
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    answersPerSecond: result['2xx'] / result.duration,
    answers: result['2xx'],
    failed: result.non2xx + result.errors,
  };
}

async function compare(
  apiTarget: HttpTarget,
  influxTarget: HttpTarget,
  seconds: number,
): Promise<Comparison> {
  const api = await cannon(apiTarget, seconds);
  const influx = await cannon(influxTarget, seconds);
  return {
    api,
    influx,
    p50DifferenceMs: api.p50Ms - influx.p50Ms,
    throughputRatio: api.answersPerSecond / influx.answersPerSecond,
  };
}

function halfLoadRate(ingest: unknown): { rate: number; basis: string } {
  const platform = (
    ingest as
      | { platform?: { sustained?: { offered: number } | null; peakMessagesPerSecond?: number } }
      | undefined
  )?.platform;
  if (platform?.sustained) {
    return { rate: platform.sustained.offered / 2, basis: 'half of ingest sustained msg/s' };
  }
  if (platform?.peakMessagesPerSecond) {
    return { rate: platform.peakMessagesPerSecond / 2, basis: 'half of ingest peak msg/s' };
  }
  return { rate: FALLBACK_HALF_LOAD, basis: 'fixed (ingest did not run)' };
}

/**
 * Runs `measure` while the load generators publish to the platform's broker at `rate`, in one
 * step long enough to cover it with room to spare; `covered` says whether it did.
 */
async function underLoad(
  context: BenchContext,
  deviceCount: number,
  rate: number,
  measure: () => Promise<Comparison>,
) {
  const devices = await context.devices(deviceCount);
  const seconds = 2 + 3 * runSeconds(context.quick) + 10;
  let connected!: () => void;
  const ready = new Promise<void>((resolve) => (connected = resolve));
  const load = runLoad(context.broker.mqttUrl, devices, {
    steps: [{ rate, seconds }],
    cpuOf: () => processCpuSeconds(context.broker.process.pid!),
    onConnected: () => connected(),
  });
  await Promise.race([ready, load]);
  const loadEnds = Date.now() + seconds * 1000;
  await sleep(2000);
  const comparison = await measure();
  const covered = Date.now() <= loadEnds;
  const result: LoadResult = await load;
  return {
    comparison,
    load: {
      ackedPerSecond: result.steps[0]!.ackedPerSecond,
      pubackP50Ms: result.sustained?.p50Ms ?? result.p50Ms,
      pubackP99Ms: result.sustained?.p99Ms ?? result.p99Ms,
      devices: devices.length,
      seconds,
      covered,
    },
  };
}

function bars(condition: string, c: Comparison) {
  const bar = (label: string, f: Figures, ours = false) => ({
    label: `${label}, ${condition}`,
    value: f.answersPerSecond,
    text: `${fmt(f.answersPerSecond, 2)}/s, p50 ${fmt(f.p50Ms)} ms`,
    ours,
  });
  return [bar('API', c.api, true), bar('InfluxDB straight', c.influx)];
}

function reportLines(
  idle: Comparison,
  loaded: Comparison,
  load: { rate: number; basis: string; ackedPerSecond: number; covered: boolean },
): string[] {
  const rows = (condition: string, c: Comparison) => [
    [condition, 'API', ...figureCells(c.api), '', ''],
    [
      '',
      'InfluxDB, the same InfluxQL',
      ...figureCells(c.influx),
      fmt(c.p50DifferenceMs, 1),
      fmt(c.throughputRatio, 2),
    ],
  ];
  return [
    `One answer: ${DEVICES} devices × ${WINDOWS} one-minute windows of ${METRIC}, one InfluxQL statement; ${CONNECTIONS} answers in flight.`,
    'Goal: p50 API − InfluxDB ≤ 3 ms, answers/s API / InfluxDB ≥ 0.8 (the last two columns).',
    ...textTable([
      [
        'condition',
        'target',
        'p50 ms',
        'p99 ms',
        'answers/s',
        'answers',
        'failed',
        'API − this p50 ms',
        'API / this answers/s',
      ],
      ...rows('idle', idle),
      ...rows('ingest at half load', loaded),
    ]),
    ...([idle, loaded].some((c) => c.api.failed + c.influx.failed > 0)
      ? ['Some requests failed: the figures of those rows include failures.']
      : []),
    `half load: ${fmt(load.rate)} msg/s offered (${load.basis}), ${fmt(load.ackedPerSecond)} acknowledged/s` +
      (load.covered ? '' : '; the load ended before the measurements did'),
  ];
}

function figureCells(f: Figures): string[] {
  return [
    fmt(f.p50Ms, 1),
    fmt(f.p99Ms, 1),
    fmt(f.answersPerSecond, 2),
    fmt(f.answers, 1),
    fmt(f.failed),
  ];
}
