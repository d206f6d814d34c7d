/**
 * Benchmark 3, connections: N idle device connections (MQTT 3.1.1, clean session, keepalive
 * 60 s, no subscriptions) held open against the platform's broker (authenticated), and as
 * baselines bare Aedes and Mosquitto 2 (anonymous), all opened by the same load generators.
 * Memory per connection is the server's RSS growth over N; the connection rate is N over the
 * time from the first CONNECT to the last CONNACK.
 *
 * Warm-up connections are opened and closed first, so one-time costs such as lazily loaded
 * code and JIT do not count per connection; they use devices of their own, so the measured ones
 * find the broker's authentication cache no warmer than earlier benchmarks left it. Both RSS
 * readings come a quiet time after the last connection opened or closed, so the garbage of the
 * burst has had a chance to be collected. V8 seldom hands grown heap back, though, so a Node
 * server's RSS growth also holds heap the burst grew into and varies from run to run; the V8
 * heap in use per connection, where the server reports it, is the steadier figure.
 */
import { readdir, readFile } from 'node:fs/promises';
import type { Benchmark, BenchContext } from './context.js';
import { startMosquitto } from './ingest.bench.js';
import {
  fmt,
  forkTs,
  log,
  nextMessage,
  percentile,
  processCpuSeconds,
  processRssBytes,
  renderBarChart,
  sleep,
  sum,
  textTable,
} from './kit.js';
import { connectWorkers, WORKERS } from './load.js';
import type { BenchDevice } from './load-generator.js';

/** Opened and closed before the baseline: the first connections load code and warm up the JIT. */
const WARMUP_CONNECTIONS = 64;
/** Connections in flight per load generator: enough that the server, not the client, limits. */
const CONCURRENCY = 100;
/** Files a process needs besides the connections: listeners, database pools, spool, stdio. */
const SPARE_FILES = 256;
/** Open files above the settled count that still count as idle (pooled database sockets). */
const IDLE_SLACK_FILES = 32;
const GOAL_BYTES_PER_CONNECTION = 16 * 1024;
/** All 10,000 authenticated within 30 s; quick runs, with fewer, are held to the same rate. */
const GOAL_CONNECTIONS_PER_SECOND = 10_000 / 30;

interface FileLimit {
  soft: number | 'unlimited';
  hard: number | 'unlimited';
}

interface ConnectionsResult {
  connections: number;
  connected: number;
  failed: number;
  /** Connections being opened at once over all load generators. */
  concurrency: number;
  /** From the first CONNECT sent to the last CONNACK received. */
  secondsToConnectAll: number;
  connectionsPerSecond: number;
  connackP50Ms: number;
  connackP99Ms: number;
  /** Server CPU per connection opened; unlike the rate, other load on the machine hardly moves it. */
  serverCpuMsPerConnection: number;
  /** Server CPU while connecting, in cores; for Mosquitto (one thread) 1 is its limit. */
  serverCpuCores: number;
  /** The busiest load generator's CPU while connecting, in cores: near 1, it was the limit. */
  loadGeneratorCpuCores: number;
  /** Open files the server gained while holding them: the sockets it really holds. */
  serverSockets: number;
  rssBeforeBytes: number;
  /** Once they had been held idle for the quiet time. */
  rssAfterBytes: number;
  bytesPerConnection: number;
  /** The highest RSS from the first CONNECT to the end of the hold. */
  rssPeakBytes: number;
  peakBytesPerConnection: number;
  /** V8 heap in use, where the server reports it; without a forced GC it includes garbage. */
  heapUsedBeforeBytes: number | null;
  heapUsedAfterBytes: number | null;
  /** Steadier than RSS, which also holds whatever the heap has grown to but not given back. */
  heapBytesPerConnection: number | null;
  /** Server CPU while the connections were held idle, in cores. */
  idleCpuCores: number;
  openFileLimit: FileLimit;
}

interface Target {
  label: string;
  url: string;
  pid: number;
  devices: BenchDevice[];
  warmup: BenchDevice[];
  heapUsedBytes?: () => Promise<number | null>;
}

async function fileLimit(pid: number | 'self'): Promise<FileLimit> {
  const limits = await readFile(`/proc/${pid}/limits`, 'utf8');
  const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits);
  if (!match) throw new Error(`no open file limit in /proc/${pid}/limits`);
  const value = (text: string) => (text === 'unlimited' ? text : Number(text));
  return { soft: value(match[1]!), hard: value(match[2]!) };
}

/** Throws when `limit` cannot hold `needed` files; children inherit the bench's `ulimit -n`. */
function requireFiles(what: string, limit: FileLimit, needed: number) {
  if (limit.soft !== 'unlimited' && limit.soft < needed) {
    throw new Error(
      `connections: ${what} may open ${limit.soft} files but needs ${needed}; ` +
        `run \`ulimit -n ${needed}\` (hard limit ${limit.hard}) before npm run bench`,
    );
  }
}

const openFiles = async (pid: number) => (await readdir(`/proc/${pid}/fd`)).length;

/** Waits until the server holds at most `max` open files, i.e. has closed the connections. */
async function waitForClosed(target: Target, max: number) {
  const end = Date.now() + 30_000;
  while ((await openFiles(target.pid)) > max) {
    if (Date.now() > end) throw new Error(`${target.label}: connections still open after 30 s`);
    await sleep(200);
  }
}

/** Samples a process's RSS twice a second; `stop()` returns the highest reading. Unreferenced,
 * so a benchmark that fails half-way leaves nothing running. */
function rssPeak(pid: number) {
  let peak = 0;
  const sample = () =>
    processRssBytes(pid).then(
      (rss) => void (peak = Math.max(peak, rss)),
      () => undefined,
    );
  const timer = setInterval(() => void sample(), 500).unref();
  return {
    async stop() {
      clearInterval(timer);
      await sample();
      return peak;
    },
  };
}

async function measure(target: Target, quietMs: number): Promise<ConnectionsResult> {
  const options = { concurrency: CONCURRENCY, countFailures: true };
  const idleFiles = await openFiles(target.pid);
  log(`connections: ${target.label}: warm-up with ${target.warmup.length}`);
  const warmup = await connectWorkers(target.url, target.warmup, options);
  await warmup.close();
  await waitForClosed(target, idleFiles + IDLE_SLACK_FILES);
  await sleep(quietMs);

  const filesBefore = await openFiles(target.pid);
  const rssBefore = await processRssBytes(target.pid);
  const heapBefore = (await target.heapUsedBytes?.()) ?? null;
  const cpuBefore = await processCpuSeconds(target.pid);
  const peak = rssPeak(target.pid);
  log(`connections: ${target.label}: opening ${target.devices.length}`);
  const { ready, close } = await connectWorkers(target.url, target.devices, options);
  let held;
  try {
    const cpuConnected = await processCpuSeconds(target.pid);
    const seconds =
      (Math.max(...ready.map((r) => r.lastConnackAt)) -
        Math.min(...ready.map((r) => r.firstConnectAt))) /
      1000;
    log(`connections: ${target.label}: open after ${fmt(seconds, 1)} s; holding`);
    await sleep(quietMs);
    held = {
      seconds,
      cpuConnected,
      cpuHeld: await processCpuSeconds(target.pid),
      rss: await processRssBytes(target.pid),
      rssPeak: await peak.stop(),
      heap: (await target.heapUsedBytes?.()) ?? null,
      files: await openFiles(target.pid),
    };
  } finally {
    await close();
  }
  await waitForClosed(target, filesBefore + IDLE_SLACK_FILES);
  const connected = sum(ready.map((r) => r.connected));
  const latencies = ready.flatMap((r) => r.latencies).sort((a, b) => a - b);
  // Includes the load generators' start-up, while the server is idle.
  const cpuConnecting = held.cpuConnected - cpuBefore;
  return {
    connections: target.devices.length,
    connected,
    failed: sum(ready.map((r) => r.failed)),
    concurrency: CONCURRENCY * WORKERS,
    secondsToConnectAll: held.seconds,
    connectionsPerSecond: connected / held.seconds,
    connackP50Ms: percentile(latencies, 50),
    connackP99Ms: percentile(latencies, 99),
    serverCpuMsPerConnection: (cpuConnecting * 1000) / connected,
    serverCpuCores: cpuConnecting / held.seconds,
    loadGeneratorCpuCores: Math.max(
      ...ready.map((r) => r.cpuSeconds / ((r.lastConnackAt - r.firstConnectAt) / 1000)),
    ),
    serverSockets: held.files - filesBefore,
    rssBeforeBytes: rssBefore,
    rssAfterBytes: held.rss,
    bytesPerConnection: (held.rss - rssBefore) / connected,
    rssPeakBytes: held.rssPeak,
    peakBytesPerConnection: (held.rssPeak - rssBefore) / connected,
    heapUsedBeforeBytes: heapBefore,
    heapUsedAfterBytes: held.heap,
    heapBytesPerConnection:
      heapBefore === null || held.heap === null ? null : (held.heap - heapBefore) / connected,
    idleCpuCores: (held.cpuHeld - held.cpuConnected) / (quietMs / 1000),
    openFileLimit: await fileLimit(target.pid),
  };
}

/** The broker's V8 heap in use, from its Prometheus endpoint. */
async function brokerHeapUsedBytes(context: BenchContext): Promise<number | null> {
  const response = await fetch(`http://127.0.0.1:${context.env.METRICS_PORT}/metrics`);
  const text = await response.text();
  const value = /^telemoat_broker_nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1];
  return value === undefined ? null : Number(value);
}

function connectionCount(quick: boolean): number {
  const override = process.argv.find((arg) => arg.startsWith('--connections='));
  if (!override) return quick ? 2000 : 10_000;
  const n = Number(override.slice('--connections='.length));
  if (!Number.isInteger(n) || n < WORKERS) throw new Error(`connections: bad ${override}`);
  return n;
}

export const connectionsBenchmark: Benchmark = {
  name: 'connections',
  async run(context) {
    const n = connectionCount(context.quick);
    const bench = await fileLimit('self');
    requireFiles('each load generator', bench, n / WORKERS + SPARE_FILES);
    const brokerPid = context.broker.process.pid!;
    requireFiles('the broker', await fileLimit(brokerPid), n + SPARE_FILES);

    const all = await context.devices(n + WARMUP_CONNECTIONS);
    const quietMs = context.quick ? 5_000 : 15_000;
    const platform = await measure(
      {
        label: 'platform broker',
        url: context.broker.mqttUrl,
        pid: brokerPid,
        devices: all.slice(0, n),
        warmup: all.slice(n),
        heapUsedBytes: () => brokerHeapUsedBytes(context),
      },
      quietMs,
    );

    const anonymous = all.map(({ id }) => ({ id }));
    const bare = forkTs('bare-aedes.ts');
    let bareAedes: ConnectionsResult;
    try {
      const { port } = await nextMessage<{ port: number }>(bare);
      bareAedes = await measure(
        {
          label: 'bare Aedes',
          url: `mqtt://127.0.0.1:${port}`,
          pid: bare.pid!,
          devices: anonymous.slice(0, n),
          warmup: anonymous.slice(n),
        },
        quietMs,
      );
    } finally {
      bare.disconnect();
    }

    let mosquitto: ConnectionsResult | null = null;
    const server = await startMosquitto(context.root);
    if (server) {
      try {
        requireFiles('Mosquitto', await fileLimit(server.process.pid!), n + SPARE_FILES);
        mosquitto = await measure(
          {
            label: 'Mosquitto 2',
            url: server.url,
            pid: server.process.pid!,
            devices: anonymous.slice(0, n),
            warmup: anonymous.slice(n),
          },
          quietMs,
        );
      } finally {
        await server.stop();
      }
    }

    const targets: [string, ConnectionsResult | null][] = [
      ['platform broker (authenticated)', platform],
      ['bare Aedes (anonymous)', bareAedes],
      ['Mosquitto 2 (anonymous)', mosquitto],
    ];
    const measured = targets.filter((t): t is [string, ConnectionsResult] => t[1] !== null);
    const mode = context.quick ? 'quick' : 'full';
    return {
      json: {
        connections: n,
        mqtt: { protocol: '3.1.1', keepaliveSeconds: 60, cleanSession: true, subscriptions: 0 },
        warmupConnections: WARMUP_CONNECTIONS,
        quietSeconds: quietMs / 1000,
        ulimitOpenFiles: bench,
        platform,
        bareAedes,
        mosquitto,
        goals: {
          bytesPerConnection: GOAL_BYTES_PER_CONNECTION,
          connectionsPerSecond: GOAL_CONNECTIONS_PER_SECOND,
          platformMet:
            platform.bytesPerConnection < GOAL_BYTES_PER_CONNECTION &&
            platform.failed === 0 &&
            platform.connectionsPerSecond >= GOAL_CONNECTIONS_PER_SECOND,
        },
      },
      lines: lines(n, quietMs, bench, targets, platform),
      charts: {
        connections: renderBarChart(
          `Memory per idle connection, KB of RSS (${fmt(n)} connections, ${mode} run; goal < 16 KB)`,
          measured.map(([label, r], i) => ({
            label,
            value: r.bytesPerConnection / 1024,
            text: `${fmt(r.bytesPerConnection / 1024, 1)} KB`,
            ours: i === 0,
          })),
        ),
        'connection-rate': renderBarChart(
          `Connections per second (${fmt(n)}, ${mode} run; goal ≥ ${fmt(GOAL_CONNECTIONS_PER_SECOND)}/s)`,
          measured.map(([label, r], i) => ({
            label,
            value: r.connectionsPerSecond,
            ours: i === 0,
          })),
        ),
      },
    };
  },
};

function lines(
  n: number,
  quietMs: number,
  bench: FileLimit,
  targets: [string, ConnectionsResult | null][],
  platform: ConnectionsResult,
): string[] {
  const mb = (bytes: number) => fmt(bytes / 2 ** 20, 1);
  const kb = (bytes: number) => fmt(bytes / 1024, 1);
  const rows = [
    [
      'target',
      'connected',
      'failed',
      'seconds',
      'conn/s',
      'CONNACK p50 / p99 ms',
      'server CPU ms/conn',
      'server / client cores',
      'RSS before → after MB',
      'KB/conn',
      'heap KB/conn',
      'idle cores',
    ],
    ...targets.map(([name, r]) =>
      r
        ? [
            name,
            fmt(r.connected),
            fmt(r.failed),
            fmt(r.secondsToConnectAll, 1),
            fmt(r.connectionsPerSecond),
            `${fmt(r.connackP50Ms, 1)} / ${fmt(r.connackP99Ms, 1)}`,
            fmt(r.serverCpuMsPerConnection, 2),
            `${fmt(r.serverCpuCores, 2)} / ${fmt(r.loadGeneratorCpuCores, 2)}`,
            `${mb(r.rssBeforeBytes)} → ${mb(r.rssAfterBytes)}`,
            kb(r.bytesPerConnection),
            r.heapBytesPerConnection === null ? '' : kb(r.heapBytesPerConnection),
            fmt(r.idleCpuCores, 3),
          ]
        : [name, 'not run', '', '', '', '', '', '', '', '', '', ''],
    ),
  ];
  return [
    `${fmt(n)} idle connections (MQTT 3.1.1, keepalive 60 s, clean session, no subscriptions), ` +
      `${fmt(CONCURRENCY * WORKERS)} being opened at once by ${WORKERS} load generators; RSS read ` +
      `${fmt(quietMs / 1000)} s after the last connection opened or closed.`,
    `ulimit -n of the bench: soft ${bench.soft}, hard ${bench.hard}; the broker, Mosquitto ` +
      'and the load generators inherit it.',
    'Client cores: the busiest load generator; near 1.00 it, not the server, was the limit.',
    ...textTable(rows),
    `platform goal (< 16 KB per connection, ≥ ${fmt(GOAL_CONNECTIONS_PER_SECOND)} connections/s): ` +
      `${kb(platform.bytesPerConnection)} KB (peak ${kb(platform.peakBytesPerConnection)} KB, ` +
      `V8 heap ${kb(platform.heapBytesPerConnection ?? NaN)} KB), ` +
      `${fmt(platform.connectionsPerSecond)}/s, ${fmt(platform.failed)} failed`,
  ];
}
