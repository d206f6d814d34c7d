/**
 * `npm run bench [-- --quick]`: end-to-end ingest throughput of the platform, measured with the
 * same load generator against baselines in the same run (bare Aedes, Mosquitto, InfluxDB
 * alone). Starts its own PostgreSQL and InfluxDB in a temporary folder; prints a table and
 * writes JSON (and an SVG chart) to bench/results/. It measures; it asserts nothing.
 */
import { spawn, execFileSync, fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import pg from 'pg';
import { apiConfigSchema } from '../api/api.config.js';
import { generateSecrets, platformEnv } from '../bin/platform-env.js';
import { startPlatform, type Env } from '../bin/platform.js';
import { loadConfig } from '../common/config.js';
import { createLogger } from '../common/logger.js';
import { directoryCryptoFrom } from '../directory/crypto/crypto.config.js';
import { DevicesRepository } from '../directory/devices.repository.js';
import { OrganisationsRepository } from '../directory/organisations.repository.js';
import { InfluxClient } from '../influx/influx.client.js';
import { startInflux, startPostgres } from '../servers/local-servers.js';
import type { BenchDevice, WorkerResult } from './load-generator.js';
import { renderChart } from './chart.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const quick = process.argv.includes('--quick');
const WORKERS = 2;
const DEVICES = quick ? 200 : 1000;
/** Total messages per second over all workers, each step held for `seconds`. */
const STEPS = quick
  ? [
      { rate: 5000, seconds: 2 },
      { rate: 10000, seconds: 2 },
      { rate: 20000, seconds: 2 },
      { rate: 40000, seconds: 2 },
      { rate: 80000, seconds: 2 },
    ]
  : [
      { rate: 5000, seconds: 10 },
      { rate: 10000, seconds: 10 },
      { rate: 20000, seconds: 10 },
      { rate: 40000, seconds: 10 },
      { rate: 80000, seconds: 10 },
    ];
const READINGS_PER_MESSAGE = 4;
const INFLUX_SECONDS = quick ? 5 : 30;
const BATCH_LINES = 5000;

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface LoadResult {
  devices: number;
  /** Per ramp step: offered messages/s and PUBACKs/s received while the step ran. */
  steps: { offered: number; ackedPerSecond: number; p50Ms: number; p99Ms: number }[];
  /** PUBACK latency at the highest step that was still acknowledged at ≥ 95 % of its rate. */
  sustained: { offered: number; p50Ms: number; p99Ms: number } | null;
  /** The busiest step's PUBACKs/s, scaled by the share of readings found in InfluxDB. */
  peakMessagesPerSecond: number;
  peakReadingsPerSecond: number;
  /** False when even the top step was acknowledged at ≥ 95 % of the offered rate: the peak is
   * then the load generator's limit, not the server's. */
  saturated: boolean;
  sent: number;
  acked: number;
  failed: number;
  /** From the first publish to the last PUBACK. */
  seconds: number;
  messagesPerSecond: number;
  readingsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU seconds of the server per million acknowledged (and, for the platform, stored) readings. */
  cpuSecondsPerMillionReadings: number | null;
  /** Platform only: readings found in InfluxDB after the spool drained. */
  readingsInInflux?: number;
}

interface InfluxOnlyResult {
  batches: number;
  lines: number;
  seconds: number;
  readingsPerSecond: number;
  readingsInInflux: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function forkTs(file: string): ChildProcess {
  return fork(path.join(here, file), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

function nextMessage<T>(child: ChildProcess, type?: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { type?: string; message?: string }) => {
      if (message.type === 'error') {
        cleanup();
        reject(new Error(`worker: ${message.message}`));
      } else if (!type || message.type === type) {
        cleanup();
        resolve(message as T);
      }
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`child exited with ${code}`));
    };
    const cleanup = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/** Runs the ramp against one broker with WORKERS load generator processes. */
async function runLoad(
  url: string,
  devices: BenchDevice[],
  cpuOf: () => Promise<number>,
  afterLoad?: (acked: number) => Promise<number>,
): Promise<LoadResult> {
  const workers = Array.from({ length: WORKERS }, () => forkTs('load-generator.ts'));
  try {
    await Promise.all(
      workers.map((worker, i) => {
        const ready = nextMessage(worker, 'ready');
        worker.send({
          type: 'connect',
          url,
          devices: devices.filter((_, d) => d % WORKERS === i),
        });
        return ready;
      }),
    );
    const cpuBefore = await cpuOf();
    const results = await Promise.all(
      workers.map((worker) => {
        const result = nextMessage<WorkerResult>(worker, 'result');
        worker.send({
          type: 'run',
          steps: STEPS.map((s) => ({ rate: s.rate / WORKERS, seconds: s.seconds })),
          drainSeconds: 30,
        });
        return result;
      }),
    );
    const stored = afterLoad ? await afterLoad(sum(results.map((r) => r.acked))) : undefined;
    const cpuSeconds = (await cpuOf()) - cpuBefore;
    const sent = sum(results.map((r) => r.sent));
    const acked = sum(results.map((r) => r.acked));
    const counted = stored === undefined ? acked : Math.min(acked, stored / READINGS_PER_MESSAGE);
    const startedAt = Math.min(...results.map((r) => r.startedAt));
    const lastAckAt = Math.max(...results.map((r) => r.lastAckAt));
    const seconds = (lastAckAt - startedAt) / 1000;
    const latencies = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
    const readings = counted * READINGS_PER_MESSAGE;
    const storedShare = acked > 0 ? counted / acked : 0;
    const steps = STEPS.map((s, i) => {
      const stepLatencies = results.flatMap((r) => r.latenciesPerStep[i]!).sort((a, b) => a - b);
      return {
        offered: s.rate,
        ackedPerSecond: sum(results.map((r) => r.ackedPerStep[i]!)) / s.seconds,
        p50Ms: percentile(stepLatencies, 50),
        p99Ms: percentile(stepLatencies, 99),
      };
    });
    const kept = steps.filter((s) => s.ackedPerSecond >= 0.95 * s.offered).at(-1);
    const peak = Math.max(...steps.map((s) => s.ackedPerSecond)) * storedShare;
    return {
      devices: devices.length,
      steps,
      sustained: kept ? { offered: kept.offered, p50Ms: kept.p50Ms, p99Ms: kept.p99Ms } : null,
      peakMessagesPerSecond: peak,
      peakReadingsPerSecond: peak * READINGS_PER_MESSAGE,
      saturated: steps.at(-1)!.ackedPerSecond < 0.95 * steps.at(-1)!.offered,
      sent,
      acked,
      failed: sum(results.map((r) => r.failed)),
      seconds,
      messagesPerSecond: counted / seconds,
      readingsPerSecond: readings / seconds,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      cpuSecondsPerMillionReadings: readings > 0 ? (cpuSeconds / readings) * 1e6 : null,
      ...(stored === undefined ? {} : { readingsInInflux: stored }),
    };
  } finally {
    await Promise.all(
      workers.map(async (worker) => {
        if (worker.exitCode !== null) return;
        const exited = new Promise((resolve) => worker.once('exit', resolve));
        worker.send({ type: 'close' });
        await Promise.race([exited, sleep(5000)]);
        if (worker.exitCode === null) worker.kill('SIGKILL');
      }),
    );
  }
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/** User + system CPU seconds of another process, from /proc. */
async function processCpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const hz = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  return ticks / hz;
}

function ownCpuSeconds(): Promise<number> {
  const { user, system } = process.cpuUsage();
  return Promise.resolve((user + system) / 1e6);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function mosquittoBinary(): string | null {
  const candidates = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'];
  const find = () => candidates.find((file) => spawnSyncOk('test', ['-x', file])) ?? null;
  const found = find();
  if (found) return found;
  if (process.getuid?.() !== 0) {
    log('mosquitto is missing: install Debian’s `mosquitto` package for that baseline');
    return null;
  }
  log('installing mosquitto with apt-get');
  try {
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'mosquitto'], {
      stdio: 'ignore',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  } catch {
    execFileSync('apt-get', ['update'], { stdio: 'ignore' });
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', 'mosquitto'], {
      stdio: 'ignore',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  }
  return find();
}

function spawnSyncOk(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const { connect } = await import('node:net');
  const end = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`nothing listens on ${port}`);
    await sleep(100);
  }
}

async function countReadings(admin: InfluxClient, database: string): Promise<number> {
  const series = await admin.query('SELECT count(value) FROM readings', { database });
  const value = series[0]?.values?.[0]?.[1];
  return typeof value === 'number' ? value : 0;
}

/** Waits until InfluxDB holds `expected` readings or the count stops growing for a while. */
async function waitForCount(admin: InfluxClient, database: string, expected: number) {
  let last = -1;
  let stableSince = Date.now();
  const end = Date.now() + 120_000;
  for (;;) {
    const count = await countReadings(admin, database);
    if (count >= expected || Date.now() > end) return count;
    if (count !== last) {
      last = count;
      stableSince = Date.now();
    } else if (Date.now() - stableSince > 10_000) {
      return count;
    }
    await sleep(250);
  }
}

/** Baseline (c): InfluxDB alone, fed pre-built gzip batches of the same shape, 4 at a time. */
async function influxOnly(
  admin: InfluxClient,
  server: { url: string; adminUser: string; adminPassword: string },
): Promise<InfluxOnlyResult> {
  const database = 'bench_influx_only';
  await admin.query(`CREATE DATABASE ${database}`);
  const tenant = randomBytes(16).toString('hex');
  const deviceKeys = Array.from({ length: DEVICES }, () => randomBytes(16).toString('hex'));
  const metrics = ['temperature', 'humidity', 'pressure', 'battery'];
  const gzipAsync = promisify(gzip);
  const batchCount = quick ? 200 : 1200;
  const batches: Buffer[] = [];
  const base = Date.now() - 60 * 60_000;
  let line = 0;
  for (let b = 0; b < batchCount; b++) {
    const lines: string[] = [];
    for (let i = 0; i < BATCH_LINES; i += READINGS_PER_MESSAGE, line++) {
      const device = deviceKeys[line % DEVICES]!;
      const ts = base + Math.floor(line / DEVICES);
      for (const metric of metrics) {
        lines.push(
          `readings,device=${device},metric=${metric},tenant=${tenant} value=${(Math.random() * 100).toFixed(3)} ${ts}`,
        );
      }
    }
    batches.push(await gzipAsync(lines.join('\n')));
  }
  const url = new URL('/write', server.url);
  url.searchParams.set('db', database);
  url.searchParams.set('precision', 'ms');
  const authorization = `Basic ${Buffer.from(`${server.adminUser}:${server.adminPassword}`).toString('base64')}`;
  const start = performance.now();
  const end = start + INFLUX_SECONDS * 1000;
  let next = 0;
  let written = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (performance.now() < end && next < batches.length) {
        const body = batches[next++]!;
        const response = await fetch(url, {
          method: 'POST',
          headers: {
            authorization,
            'content-type': 'text/plain; charset=utf-8',
            'content-encoding': 'gzip',
          },
          body,
        });
        await response.text();
        if (response.status !== 204) throw new Error(`influx write: ${response.status}`);
        written++;
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  const lines = written * BATCH_LINES;
  const readingsInInflux = await countReadings(admin, database);
  return {
    batches: written,
    lines,
    seconds,
    readingsPerSecond: lines / seconds,
    readingsInInflux,
  };
}

async function main() {
  const startedAt = new Date();
  const root = await mkdtemp(path.join(tmpdir(), 'telemoat-bench-'));
  await chmod(root, 0o755);
  const stops: (() => Promise<void>)[] = [];
  try {
    log(`mode ${quick ? 'quick' : 'full'}: ${DEVICES} devices, ${WORKERS} load generators`);
    const [postgres, influx] = await Promise.all([
      startPostgres({ dataDir: path.join(root, 'postgres'), log }),
      startInflux({ dataDir: path.join(root, 'influx'), log }),
    ]);
    stops.push(
      () => postgres.stop(),
      () => influx.stop(),
    );
    const servers = {
      postgresAdminUrl: postgres.url,
      influxUrl: influx.url,
      influxAdminUser: influx.adminUser,
      influxAdminPassword: influx.adminPassword,
    };
    const admin = new InfluxClient(
      { url: influx.url, username: influx.adminUser, password: influx.adminPassword },
      60_000,
    );
    const spoolDir = path.join(root, 'spool');
    await mkdir(spoolDir);
    const env: Env = {
      ...platformEnv(servers, generateSecrets(), {
        database: 'telemoat_bench',
        influxDatabase: 'telemoat_bench',
        spoolDir,
        mqttPort: 0,
        apiPort: 0,
        wsPort: 0,
        metricsPort: 0,
      }),
      LOG_LEVEL: 'silent',
    };
    const platform = await startPlatform(env, createLogger({ name: 'bench', level: 'silent' }));
    stops.unshift(() => platform.close());

    log(`provisioning ${DEVICES} devices`);
    const pool = new pg.Pool({ connectionString: env.API_DATABASE_URL, max: 4 });
    stops.unshift(() => pool.end());
    const crypto = directoryCryptoFrom(loadConfig('api', apiConfigSchema, env));
    const org = await new OrganisationsRepository(pool, crypto).create('Bench');
    const repository = new DevicesRepository(pool);
    const devices: BenchDevice[] = [];
    const names = Array.from({ length: DEVICES }, (_, i) => `bench-${i}`);
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let name = names.shift(); name; name = names.shift()) {
          const { device, secret } = await repository.provision(org.id, name);
          devices.push({ id: device.id, secret });
        }
      }),
    );
    const anonymous = devices.map(({ id }) => ({ id }));

    log('platform: ingest end to end');
    const platformResult = await runLoad(
      `mqtt://127.0.0.1:${platform.mqttPort}`,
      devices,
      ownCpuSeconds,
      (acked) => waitForCount(admin, 'telemoat_bench', acked * READINGS_PER_MESSAGE),
    );

    log('baseline: bare Aedes');
    const bare = forkTs('bare-aedes.ts');
    const barePort = (await nextMessage<{ port: number }>(bare)).port;
    const bareResult = await runLoad(`mqtt://127.0.0.1:${barePort}`, anonymous, () =>
      processCpuSeconds(bare.pid!),
    );
    bare.disconnect();

    let mosquittoResult: LoadResult | null = null;
    const mosquittoBin = mosquittoBinary();
    if (mosquittoBin) {
      log('baseline: Mosquitto');
      const port = await freePort();
      const conf = path.join(root, 'mosquitto.conf');
      await writeFile(
        conf,
        `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_inflight_messages 0\nmax_queued_messages 0\nlog_dest none\n`,
      );
      const mosquitto = spawn(mosquittoBin, ['-c', conf], { stdio: 'ignore' });
      try {
        await waitForPort(port);
        mosquittoResult = await runLoad(`mqtt://127.0.0.1:${port}`, anonymous, () =>
          processCpuSeconds(mosquitto.pid!),
        );
      } finally {
        mosquitto.kill('SIGTERM');
      }
    }

    log('baseline: InfluxDB alone');
    const influxResult = await influxOnly(admin, influx);

    const results = {
      startedAt: startedAt.toISOString(),
      mode: quick ? 'quick' : 'full',
      machine: {
        nproc: cpus().length,
        memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
        node: process.version,
      },
      load: {
        workers: WORKERS,
        devices: DEVICES,
        qos: 1,
        readingsPerMessage: READINGS_PER_MESSAGE,
        steps: STEPS,
      },
      ingest: {
        platform: platformResult,
        bareAedes: bareResult,
        mosquitto: mosquittoResult,
        influxOnly: influxResult,
        ratios: {
          peakReadingsPlatformToBareAedes:
            platformResult.peakReadingsPerSecond / bareResult.peakReadingsPerSecond,
          peakReadingsPlatformToMosquitto: mosquittoResult
            ? platformResult.peakReadingsPerSecond / mosquittoResult.peakReadingsPerSecond
            : null,
          peakReadingsPlatformToInfluxOnly:
            platformResult.peakReadingsPerSecond / influxResult.readingsPerSecond,
          cpuPlatformToBareAedes:
            (platformResult.cpuSecondsPerMillionReadings ?? NaN) /
            (bareResult.cpuSecondsPerMillionReadings ?? NaN),
          cpuPlatformToMosquitto: mosquittoResult
            ? (platformResult.cpuSecondsPerMillionReadings ?? NaN) /
              (mosquittoResult.cpuSecondsPerMillionReadings ?? NaN)
            : null,
        },
      },
    };
    printTable(results.ingest);
    const dir = path.join(here, 'results');
    await mkdir(dir, { recursive: true });
    const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
    const jsonFile = path.join(dir, `${stamp}.json`);
    await writeFile(jsonFile, JSON.stringify(results, null, 2) + '\n');
    const svgFile = path.join(dir, `${stamp}-ingest.svg`);
    await writeFile(svgFile, renderChart(results.ingest, results.mode));
    log(
      `wrote ${path.relative(process.cwd(), jsonFile)} and ${path.relative(process.cwd(), svgFile)}`,
    );
  } finally {
    for (const stop of stops) await stop().catch((err: unknown) => log(`stop: ${String(err)}`));
    await rm(root, { recursive: true, force: true });
  }
}

function printTable(ingest: {
  platform: LoadResult;
  bareAedes: LoadResult;
  mosquitto: LoadResult | null;
  influxOnly: InfluxOnlyResult;
}) {
  const f = (n: number | null | undefined, digits = 0) =>
    n === null || n === undefined || Number.isNaN(n) ? '–' : n.toFixed(digits);
  const rows: string[][] = [
    [
      'target',
      'peak msg/s',
      'peak readings/s',
      'avg readings/s',
      'p50 ms',
      'p99 ms',
      'CPU s/M readings',
      'peak: platform/this',
      'CPU: platform/this',
    ],
  ];
  const p = ingest.platform;
  const row = (name: string, r: LoadResult | null) => {
    if (!r) {
      rows.push([name, 'not run', '', '', '', '', '', '', '']);
      return;
    }
    rows.push([
      name,
      `${r.saturated ? '' : '≥'}${f(r.peakMessagesPerSecond)}`,
      f(r.peakReadingsPerSecond),
      f(r.readingsPerSecond),
      f(r.p50Ms, 1),
      f(r.p99Ms, 1),
      f(r.cpuSecondsPerMillionReadings, 1),
      f(p.peakReadingsPerSecond / r.peakReadingsPerSecond, 2),
      f((p.cpuSecondsPerMillionReadings ?? NaN) / (r.cpuSecondsPerMillionReadings ?? NaN), 2),
    ]);
  };
  row('platform (acked + in InfluxDB)', p);
  row('bare Aedes', ingest.bareAedes);
  row('Mosquitto 2', ingest.mosquitto);
  rows.push([
    'InfluxDB alone (5,000-line gzip, x4)',
    '',
    f(ingest.influxOnly.readingsPerSecond),
    f(ingest.influxOnly.readingsPerSecond),
    '',
    '',
    '',
    f(p.peakReadingsPerSecond / ingest.influxOnly.readingsPerSecond, 2),
    '',
  ]);
  const steps = (r: LoadResult | null) =>
    r
      ? r.steps
          .map(
            (s) =>
              `${s.offered}→${Math.round(s.ackedPerSecond)} (p50 ${f(s.p50Ms, 1)}, p99 ${f(s.p99Ms, 1)} ms)`,
          )
          .join(', ')
      : '–';
  console.log(
    '\nPer ramp step: offered msg/s → acknowledged msg/s (PUBACK latency of messages published in it):',
  );
  console.log(`  platform    ${steps(p)}`);
  console.log(`  bare Aedes  ${steps(ingest.bareAedes)}`);
  console.log(`  Mosquitto   ${steps(ingest.mosquitto)}`);
  console.log('≥: still keeping up at the top step, so the peak is the offered load, not a limit.');
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const r of rows) {
    console.log(
      r
        .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
        .join('  '),
    );
  }
  const sustained = (name: string, r: LoadResult | null) => {
    const s = r?.sustained;
    console.log(
      s
        ? `${name}: highest step kept up ${s.offered} msg/s, PUBACK p50 ${f(s.p50Ms, 1)} ms, p99 ${f(s.p99Ms, 1)} ms`
        : `${name}: no step kept up`,
    );
  };
  sustained('platform', p);
  sustained('bare Aedes', ingest.bareAedes);
  sustained('Mosquitto', ingest.mosquitto);
  console.log(
    `platform: ${p.acked} of ${p.sent} messages acknowledged, ${p.readingsInInflux ?? 0} readings in InfluxDB, ${p.failed} failed`,
  );
}

await main();
