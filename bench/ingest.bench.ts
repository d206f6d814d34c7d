/**
 * Benchmark 1, ingest end to end: the platform's broker (authentication, topic rules, spool,
 * InfluxDB) under a stepped ramp, and in the same run with the same load generator bare
 * Aedes, Mosquitto 2 and InfluxDB alone. Only readings acknowledged AND counted in InfluxDB
 * afterwards count for the platform.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { InfluxClient } from '../influx/influx.client.js';
import { INFLUX_DATABASE, type Benchmark, type BenchContext } from './context.js';
import {
  debianBinary,
  fmt,
  forkTs,
  freePort,
  log,
  nextMessage,
  processCpuSeconds,
  renderBarChart,
  sleep,
  stopChild,
  textTable,
  waitForPort,
} from './kit.js';
import { READINGS_PER_MESSAGE, runLoad, type LoadResult, type Step } from './load.js';

const BATCH_LINES = 5000;

export function ingestSteps(quick: boolean): Step[] {
  return [5000, 10000, 20000, 40000, 80000].map((rate) => ({ rate, seconds: quick ? 2 : 10 }));
}

interface InfluxOnlyResult {
  batches: number;
  lines: number;
  seconds: number;
  readingsPerSecond: number;
  readingsInInflux: number;
}

export async function countReadings(admin: InfluxClient, database: string): Promise<number> {
  const series = await admin.query('SELECT count(value) FROM readings', { database });
  const value = series[0]?.values?.[0]?.[1];
  return typeof value === 'number' ? value : 0;
}

/** Waits until InfluxDB holds `expected` readings or the count stops growing for a while. */
export async function waitForCount(admin: InfluxClient, database: string, expected: number) {
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
async function influxOnly(context: BenchContext, devices: number): Promise<InfluxOnlyResult> {
  const { influxAdmin: admin, influx, quick } = context;
  const database = 'bench_influx_only';
  await admin.query(`CREATE DATABASE ${database}`);
  const tenant = randomBytes(16).toString('hex');
  const deviceKeys = Array.from({ length: devices }, () => randomBytes(16).toString('hex'));
  const metrics = ['temperature', 'humidity', 'pressure', 'battery'];
  const gzipAsync = promisify(gzip);
  const batchCount = quick ? 200 : 1200;
  const batches: Buffer[] = [];
  const base = Date.now() - 60 * 60_000;
  let line = 0;
  for (let b = 0; b < batchCount; b++) {
    const lines: string[] = [];
    for (let i = 0; i < BATCH_LINES; i += READINGS_PER_MESSAGE, line++) {
      const device = deviceKeys[line % devices]!;
      const ts = base + Math.floor(line / devices);
      for (const metric of metrics) {
        lines.push(
          `readings,device=${device},metric=${metric},tenant=${tenant} value=${(Math.random() * 100).toFixed(3)} ${ts}`,
        );
      }
    }
    batches.push(await gzipAsync(lines.join('\n')));
  }
  const url = new URL('/write', influx.url);
  url.searchParams.set('db', database);
  url.searchParams.set('precision', 'ms');
  const authorization = `Basic ${Buffer.from(`${influx.adminUser}:${influx.adminPassword}`).toString('base64')}`;
  const start = performance.now();
  const end = start + (quick ? 5 : 30) * 1000;
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
  return {
    batches: written,
    lines,
    seconds,
    readingsPerSecond: lines / seconds,
    readingsInInflux: await countReadings(admin, database),
  };
}

/** Baseline (a): Aedes with no hooks, in its own process. */
async function bareAedes(steps: Step[], devices: { id: string }[]): Promise<LoadResult> {
  const bare = forkTs('bare-aedes.ts');
  try {
    const { port } = await nextMessage<{ port: number }>(bare);
    return await runLoad(`mqtt://127.0.0.1:${port}`, devices, {
      steps,
      cpuOf: () => processCpuSeconds(bare.pid!),
    });
  } finally {
    bare.disconnect();
  }
}

/** Starts Debian's Mosquitto 2 without authentication or persistence; null when missing. */
export async function startMosquitto(root: string) {
  const binary = debianBinary(['/usr/sbin/mosquitto', '/usr/bin/mosquitto'], 'mosquitto');
  if (!binary) return null;
  const port = await freePort();
  const conf = path.join(root, `mosquitto-${port}.conf`);
  await writeFile(
    conf,
    `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_inflight_messages 0\nmax_queued_messages 0\nlog_dest none\n`,
  );
  const child = spawn(binary, ['-c', conf], { stdio: 'ignore' });
  await waitForPort(port);
  return { process: child, port, url: `mqtt://127.0.0.1:${port}`, stop: () => stopChild(child) };
}

/** Baseline (b): Mosquitto 2, no authentication; null when it cannot be installed. */
async function mosquitto(
  context: BenchContext,
  steps: Step[],
  devices: { id: string }[],
): Promise<LoadResult | null> {
  const server = await startMosquitto(context.root);
  if (!server) return null;
  try {
    return await runLoad(server.url, devices, {
      steps,
      cpuOf: () => processCpuSeconds(server.process.pid!),
    });
  } finally {
    await server.stop();
  }
}

export const ingestBenchmark: Benchmark = {
  name: 'ingest',
  async run(context) {
    const steps = ingestSteps(context.quick);
    const devices = await context.devices(context.quick ? 200 : 1000);
    const anonymous = devices.map(({ id }) => ({ id }));

    log('ingest: platform end to end');
    const platform = await runLoad(context.broker.mqttUrl, devices, {
      steps,
      cpuOf: () => processCpuSeconds(context.broker.process.pid!),
      afterLoad: (acked) =>
        waitForCount(context.influxAdmin, INFLUX_DATABASE, acked * READINGS_PER_MESSAGE),
    });
    log('ingest: baseline bare Aedes');
    const bare = await bareAedes(steps, anonymous);
    log('ingest: baseline Mosquitto');
    const mosquittoResult = await mosquitto(context, steps, anonymous);
    log('ingest: baseline InfluxDB alone');
    const influx = await influxOnly(context, devices.length);

    const ratio = (a: number | null | undefined, b: number | null | undefined) =>
      a == null || b == null ? null : a / b;
    const json = {
      load: { devices: devices.length, qos: 1, readingsPerMessage: READINGS_PER_MESSAGE, steps },
      platform,
      bareAedes: bare,
      mosquitto: mosquittoResult,
      influxOnly: influx,
      ratios: {
        peakPlatformToBareAedes: ratio(platform.peakReadingsPerSecond, bare.peakReadingsPerSecond),
        peakPlatformToMosquitto: ratio(
          platform.peakReadingsPerSecond,
          mosquittoResult?.peakReadingsPerSecond,
        ),
        peakPlatformToInfluxOnly: ratio(platform.peakReadingsPerSecond, influx.readingsPerSecond),
        cpuPlatformToBareAedes: ratio(
          platform.cpuSecondsPerMillionReadings,
          bare.cpuSecondsPerMillionReadings,
        ),
        cpuPlatformToMosquitto: ratio(
          platform.cpuSecondsPerMillionReadings,
          mosquittoResult?.cpuSecondsPerMillionReadings,
        ),
      },
    };
    const targets: [string, LoadResult | null][] = [
      ['platform (acked + in InfluxDB)', platform],
      ['bare Aedes', bare],
      ['Mosquitto 2', mosquittoResult],
    ];
    return {
      json,
      lines: [...stepLines(targets), ...summaryLines(targets, influx)],
      charts: {
        ingest: renderBarChart(
          `Ingest: peak readings per second (${context.quick ? 'quick' : 'full'} run, higher is better)`,
          [
            ...targets
              .filter((t): t is [string, LoadResult] => t[1] !== null)
              .map(([label, r], i) => ({
                label,
                value: r.peakReadingsPerSecond,
                ours: i === 0,
              })),
            { label: 'InfluxDB alone (stored)', value: influx.readingsPerSecond },
          ],
        ),
      },
    };
  },
};

function stepLines(targets: [string, LoadResult | null][]): string[] {
  const steps = targets[0]![1]!.steps;
  return [
    'Ingest per ramp step: offered → acknowledged msg/s (PUBACK p50 / p99 ms of messages published in it)',
    ...textTable([
      ['target', ...steps.map((s) => fmt(s.offered))],
      ...targets.map(([name, r]) => [
        name,
        ...steps.map((_, i) => {
          const s = r?.steps[i];
          return s
            ? `${fmt(s.ackedPerSecond)} (${fmt(s.p50Ms, 1)} / ${fmt(s.p99Ms, 1)})`
            : 'not run';
        }),
      ]),
    ]),
  ];
}

function summaryLines(targets: [string, LoadResult | null][], influx: InfluxOnlyResult): string[] {
  const p = targets[0]![1]!;
  const rows = [
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
    ...targets.map(([name, r]) =>
      r
        ? [
            name,
            `${r.saturated ? '' : '≥'}${fmt(r.peakMessagesPerSecond)}`,
            fmt(r.peakReadingsPerSecond),
            fmt(r.readingsPerSecond),
            fmt(r.p50Ms, 1),
            fmt(r.p99Ms, 1),
            fmt(r.cpuSecondsPerMillionReadings, 1),
            fmt(p.peakReadingsPerSecond / r.peakReadingsPerSecond, 2),
            fmt(
              (p.cpuSecondsPerMillionReadings ?? NaN) / (r.cpuSecondsPerMillionReadings ?? NaN),
              2,
            ),
          ]
        : [name, 'not run', '', '', '', '', '', '', ''],
    ),
    [
      'InfluxDB alone (5,000-line gzip, x4)',
      '',
      fmt(influx.readingsPerSecond),
      fmt(influx.readingsPerSecond),
      '',
      '',
      '',
      fmt(p.peakReadingsPerSecond / influx.readingsPerSecond, 2),
      '',
    ],
  ];
  const kept = targets.map(([name, r]) => {
    const s = r?.sustained;
    return s
      ? `${name}: highest step kept up ${fmt(s.offered)} msg/s, PUBACK p50 ${fmt(s.p50Ms, 1)} ms, p99 ${fmt(s.p99Ms, 1)} ms`
      : `${name}: no step kept up`;
  });
  return [
    '≥: still keeping up at the top step, so the peak is the offered load, not a limit.',
    ...textTable(rows),
    ...kept,
    `platform: ${fmt(p.acked)} of ${fmt(p.sent)} messages acknowledged, ${fmt(p.readingsInInflux ?? 0)} readings in InfluxDB, ${fmt(p.failed)} failed`,
  ];
}
