/**
 * Benchmark 1, ingest end to end: the platform's broker (authentication, topic rules, spool,
 * InfluxDB) under a stepped ramp, and in the same run with the same load generator bare
 * Aedes, Mosquitto 2, the Node-RED pipeline users build today (bench/node-red.ts) and InfluxDB
 * alone. Only readings acknowledged AND counted in InfluxDB afterwards count for the platform;
 * for Node-RED, whose PUBACKs come from Mosquitto, only readings stored in InfluxDB count.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { INFLUX_DATABASE, type Benchmark, type BenchContext } from './context.js';
import {
  countReadings,
  debianBinary,
  fmt,
  forkTs,
  freePort,
  log,
  nextMessage,
  processCpuSeconds,
  processRssBytes,
  renderBarChart,
  stopChild,
  textTable,
  waitForCount,
  waitForPort,
} from './kit.js';
import { READINGS_PER_MESSAGE, runLoad, type LoadResult, type Step } from './load.js';
import type { BenchDevice } from './load-generator.js';
import { nodeRedPipeline, type NodeRedOutcome, type NodeRedResult } from './node-red.js';

const BATCH_LINES = 5000;

export function ingestSteps(quick: boolean): Step[] {
  // 25,000 and 30,000 bracket the goal (25,000 msg/s with p99 PUBACK under 250 ms).
  return [5000, 10000, 20000, 25000, 30000, 40000, 80000].map((rate) => ({
    rate,
    seconds: quick ? 2 : 10,
  }));
}

interface InfluxOnlyResult {
  batches: number;
  lines: number;
  seconds: number;
  readingsPerSecond: number;
  readingsInInflux: number;
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
      memoryOf: () => processRssBytes(bare.pid!),
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
      memoryOf: () => processRssBytes(server.process.pid!),
    });
  } finally {
    await server.stop();
  }
}

/** Baseline (d): Node-RED between a Mosquitto 2 of its own and InfluxDB. */
async function nodeRed(
  context: BenchContext,
  steps: Step[],
  devices: BenchDevice[],
): Promise<NodeRedOutcome> {
  const server = await startMosquitto(context.root);
  if (!server) return { skipped: 'Mosquitto 2, its broker, is missing' };
  try {
    return await nodeRedPipeline(context, server, steps, devices);
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
      memoryOf: () => processRssBytes(context.broker.process.pid!),
      afterLoad: (acked) =>
        waitForCount(context.influxAdmin, INFLUX_DATABASE, acked * READINGS_PER_MESSAGE),
    });
    log('ingest: baseline bare Aedes');
    const bare = await bareAedes(steps, anonymous);
    log('ingest: baseline Mosquitto');
    const mosquittoResult = await mosquitto(context, steps, anonymous);
    log('ingest: baseline Node-RED pipeline');
    const nodeRedOutcome = await nodeRed(context, steps, anonymous);
    const nodeRedResult = 'skipped' in nodeRedOutcome ? null : nodeRedOutcome;
    log('ingest: baseline InfluxDB alone');
    const influx = await influxOnly(context, devices.length);

    const ratio = (a: number | null | undefined, b: number | null | undefined) =>
      a == null || b == null ? null : a / b;
    const json = {
      load: { devices: devices.length, qos: 1, readingsPerMessage: READINGS_PER_MESSAGE, steps },
      platform,
      bareAedes: bare,
      mosquitto: mosquittoResult,
      nodeRed: nodeRedOutcome,
      influxOnly: influx,
      ratios: {
        peakPlatformToBareAedes: ratio(platform.peakReadingsPerSecond, bare.peakReadingsPerSecond),
        peakPlatformToMosquitto: ratio(
          platform.peakReadingsPerSecond,
          mosquittoResult?.peakReadingsPerSecond,
        ),
        peakPlatformToNodeRed: ratio(
          platform.peakReadingsPerSecond,
          nodeRedResult?.peakStoredReadingsPerSecond,
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
      lines: [
        ...stepLines(targets),
        ...nodeRedStepLines(nodeRedOutcome),
        ...summaryLines(targets, nodeRedResult, influx),
        ...nodeRedLines(nodeRedOutcome),
      ],
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
            ...(nodeRedResult
              ? [
                  {
                    label: 'Node-RED pipeline (stored)',
                    value: nodeRedResult.peakStoredReadingsPerSecond,
                  },
                ]
              : []),
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

function nodeRedStepLines(outcome: NodeRedOutcome): string[] {
  if ('skipped' in outcome) return [];
  return [
    '',
    'Node-RED pipeline per ramp step: offered msg/s → Mosquitto PUBACKs msg/s, readings stored in InfluxDB/s',
    ...textTable([
      ['offered msg/s', ...outcome.steps.map((s) => fmt(s.offered))],
      ['acknowledged msg/s', ...outcome.load.steps.map((s) => fmt(s.ackedPerSecond))],
      ['stored readings/s', ...outcome.steps.map((s) => fmt(s.storedReadingsPerSecond))],
    ]),
    '',
  ];
}

function nodeRedLines(outcome: NodeRedOutcome): string[] {
  if ('skipped' in outcome) return [`Node-RED pipeline: not run: ${outcome.skipped}`];
  const r = outcome;
  const perMillion = r.cpuSecondsPerMillionStoredReadings;
  const errors = Object.entries(r.errors).sort((a, b) => b[1] - a[1]);
  return [
    `Node-RED ${r.nodeRedVersion} + node-red-contrib-influxdb ${r.influxdbNodesVersion}: ${fmt(r.storedReadings)} of ${fmt(r.publishedReadings)} published readings stored (${fmt(r.lostReadings)} missing${r.stillStoring ? ', still storing when the wait ended' : ''}) in ${fmt(r.storeSeconds, 1)} s; CPU s per million stored readings: Node-RED ${fmt(perMillion.nodeRed, 1)}, Mosquitto ${fmt(perMillion.mosquitto, 1)}; Node-RED peak RSS ${fmt(r.nodeRedPeakRssMiB)} MiB; ${fmt(r.brokerDisconnects)} disconnections from Mosquitto${r.nodeRedDied ? `; Node-RED died (${r.nodeRedDied})` : ''}`,
    ...(errors.length > 0
      ? [
          `Node-RED errors, one per message whose write failed (after a 500, InfluxDB may have stored it anyway): ${errors.map(([message, n]) => `${fmt(n)} × ${message}`).join('; ')}`,
        ]
      : []),
  ];
}

function summaryLines(
  targets: [string, LoadResult | null][],
  nodeRed: NodeRedResult | null,
  influx: InfluxOnlyResult,
): string[] {
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
      'peak RSS MB',
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
            fmt(r.peakRssBytes === undefined ? null : r.peakRssBytes / 2 ** 20),
            fmt(p.peakReadingsPerSecond / r.peakReadingsPerSecond, 2),
            fmt(
              (p.cpuSecondsPerMillionReadings ?? NaN) / (r.cpuSecondsPerMillionReadings ?? NaN),
              2,
            ),
          ]
        : [name, 'not run', '', '', '', '', '', '', ''],
    ),
    nodeRed
      ? [
          'Node-RED pipeline (stored)',
          '',
          fmt(nodeRed.peakStoredReadingsPerSecond),
          fmt(nodeRed.storedReadings / nodeRed.storeSeconds),
          '',
          '',
          fmt(nodeRed.cpuSecondsPerMillionStoredReadings.pipeline, 1),
          fmt(nodeRed.nodeRedPeakRssMiB),
          fmt(p.peakReadingsPerSecond / nodeRed.peakStoredReadingsPerSecond, 2),
          fmt(
            (p.cpuSecondsPerMillionReadings ?? NaN) /
              (nodeRed.cpuSecondsPerMillionStoredReadings.pipeline ?? NaN),
            2,
          ),
        ]
      : ['Node-RED pipeline (stored)', 'not run', '', '', '', '', '', '', '', ''],
    [
      'InfluxDB alone (5,000-line gzip, x4)',
      '',
      fmt(influx.readingsPerSecond),
      fmt(influx.readingsPerSecond),
      '',
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
