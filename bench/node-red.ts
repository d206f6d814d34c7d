/**
 * Baseline (d) of the ingest benchmark: the pipeline users build today without the platform,
 * Mosquitto 2 → Node-RED (`mqtt in` → `function` → `influxdb out`) → InfluxDB. Node-RED and
 * node-red-contrib-influxdb are installed by npm into a cache folder outside the project, once.
 * Mosquitto acknowledges the publishes, so what counts is what reaches InfluxDB: the count is
 * sampled about once a second while the load runs and until it stops growing.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import type { BenchContext } from './context.js';
import {
  countReadings,
  freePort,
  log,
  processCpuSeconds,
  sleep,
  stopChild,
  waitForPort,
} from './kit.js';
import { READINGS_PER_MESSAGE, runLoad, type LoadResult, type Step } from './load.js';
import type { BenchDevice } from './load-generator.js';

/** Node-RED 5 requires Node ≥ 22.9; the 4.1 line is the newest that runs on Node 20. */
export const NODE_RED_VERSION = '4.1.15';
const INFLUXDB_NODES_VERSION = '0.7.0';
const DATABASE = 'bench_node_red';
/**
 * Node-RED buffers what it cannot write yet; this bounds the wait for its backlog, so the whole
 * bench stays within its time budget. What is still missing then counts as not stored.
 */
const drainLimitMs = (quick: boolean) => (quick ? 30_000 : 60_000);

export interface NodeRedResult {
  nodeRedVersion: string;
  influxdbNodesVersion: string;
  database: string;
  /** What the load generators saw; the PUBACKs are Mosquitto's, not the pipeline's. */
  load: LoadResult;
  /** Per ramp step: offered messages/s and readings/s that reached InfluxDB while it ran. */
  steps: { offered: number; storedReadingsPerSecond: number }[];
  /** Highest stored readings/s over any window as long as a ramp step (the platform's peak is a
   * step's), the drain after the load included. */
  peakStoredReadingsPerSecond: number;
  publishedReadings: number;
  storedReadings: number;
  /** Published readings not in InfluxDB when the count stopped growing (or the wait ended). */
  lostReadings: number;
  /** From the first publish until the count reached its final value. */
  storeSeconds: number;
  /** True when the wait for the backlog ended while the count still grew. */
  stillStoring: boolean;
  cpuSeconds: { nodeRed: number; mosquitto: number };
  cpuSecondsPerMillionStoredReadings: {
    nodeRed: number | null;
    mosquitto: number | null;
    pipeline: number | null;
  };
  /** Node-RED's peak resident memory, in MiB: its backlog lives there. */
  nodeRedPeakRssMiB: number | null;
  /** Node-RED's error log lines by message (digits as N), one per message it failed to write. */
  errors: Record<string, number>;
  /** Times Node-RED lost its connection to Mosquitto while the load ran or drained. */
  brokerDisconnects: number;
  /** How Node-RED ended when it did not survive the load, e.g. out of memory. */
  nodeRedDied: string | null;
}

export type NodeRedOutcome = NodeRedResult | { skipped: string };

interface Broker {
  process: ChildProcess;
  port: number;
  url: string;
}

const cacheDir = () =>
  path.join(
    process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache'),
    'telemoat-bench',
    `node-red-${NODE_RED_VERSION}`,
  );

async function installedVersion(dir: string, name: string): Promise<string | null> {
  try {
    const json = await readFile(path.join(dir, 'node_modules', name, 'package.json'), 'utf8');
    return (JSON.parse(json) as { version: string }).version;
  } catch {
    return null;
  }
}

/** Node-RED's entry point, installed into the cache on first use; a reason when it cannot be. */
async function installNodeRed(): Promise<{ redJs: string } | { skipped: string }> {
  const dir = cacheDir();
  const redJs = path.join(dir, 'node_modules', 'node-red', 'red.js');
  const [red, nodes] = await Promise.all([
    installedVersion(dir, 'node-red'),
    installedVersion(dir, 'node-red-contrib-influxdb'),
  ]);
  const packages = [
    `node-red@${NODE_RED_VERSION}`,
    `node-red-contrib-influxdb@${INFLUXDB_NODES_VERSION}`,
  ];
  if (red === NODE_RED_VERSION && nodes === INFLUXDB_NODES_VERSION) {
    log(`node-red: using ${packages.join(' and ')} in ${dir}`);
    return { redJs };
  }
  log(`node-red: installing ${packages.join(' and ')} into ${dir}`);
  try {
    await mkdir(dir, { recursive: true });
    // The cache folder as working directory, so npm never looks at the project's package.json.
    await promisify(execFile)(
      'npm',
      [
        'install',
        '--prefix',
        dir,
        '--no-save',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
        ...packages,
      ],
      { cwd: dir, maxBuffer: 16 * 2 ** 20, timeout: 600_000 },
    );
  } catch (err) {
    const reason = (err as { stderr?: string }).stderr
      ?.split('\n')
      .filter((line) => line.startsWith('npm error') && !line.includes('complete log'))
      .join(' ');
    return { skipped: `npm install of Node-RED failed: ${reason || String(err)}` };
  }
  log('node-red: installed');
  return { redJs };
}

/**
 * The flow a user draws in the editor, with the config nodes it needs. Its `influxdb out` node
 * (1.x mode) writes every message with an HTTP request of its own and no bound on how many are
 * in flight: under load, that is where messages are lost.
 */
function flows(mqttPort: number, influxUrl: URL) {
  const toPoints = [
    "const device = msg.topic.split('/')[1];",
    'const { ts, readings } = msg.payload;',
    'msg.payload = Object.entries(readings).map(([metric, value]) => [',
    '  { value, time: ts },',
    '  { device, metric },',
    ']);',
    'return msg;',
  ].join('\n');
  return [
    { id: 'telemetry-tab', type: 'tab', label: 'Telemetry', disabled: false, info: '' },
    {
      id: 'mosquitto-config',
      type: 'mqtt-broker',
      name: 'Mosquitto',
      broker: '127.0.0.1',
      port: String(mqttPort),
      clientid: '',
      autoConnect: true,
      usetls: false,
      protocolVersion: '4',
      keepalive: '60',
      cleansession: true,
      autoUnsubscribe: true,
    },
    {
      id: 'influxdb-config',
      type: 'influxdb',
      name: 'InfluxDB',
      hostname: influxUrl.hostname,
      port: influxUrl.port,
      protocol: 'http',
      database: DATABASE,
      usetls: false,
      tls: '',
      influxdbVersion: '1.x',
      url: '',
      rejectUnauthorized: true,
    },
    {
      id: 'telemetry-in',
      type: 'mqtt in',
      z: 'telemetry-tab',
      name: 'telemetry',
      topic: 'devices/+/telemetry',
      qos: '1',
      datatype: 'json',
      broker: 'mosquitto-config',
      nl: false,
      rap: true,
      rh: 0,
      inputs: 0,
      x: 120,
      y: 80,
      wires: [['to-points']],
    },
    {
      id: 'to-points',
      type: 'function',
      z: 'telemetry-tab',
      name: 'readings to points',
      func: toPoints,
      outputs: 1,
      timeout: 0,
      noerr: 0,
      initialize: '',
      finalize: '',
      libs: [],
      x: 330,
      y: 80,
      wires: [['readings-out']],
    },
    {
      id: 'readings-out',
      type: 'influxdb out',
      z: 'telemetry-tab',
      influxdb: 'influxdb-config',
      name: 'readings',
      measurement: 'readings',
      precision: 'ms',
      retentionPolicy: '',
      database: 'database',
      precisionV18FluxV20: 'ms',
      retentionPolicyV18Flux: '',
      org: 'organisation',
      bucket: 'bucket',
      x: 540,
      y: 80,
      wires: [],
    },
  ];
}

/** Starts Node-RED with a generated user folder: settings, flows and plain credentials. */
async function startNodeRed(context: BenchContext, redJs: string, mqttPort: number) {
  const userDir = path.join(context.root, 'node-red');
  await mkdir(userDir, { recursive: true });
  const uiPort = await freePort();
  const settings = {
    uiHost: '127.0.0.1',
    uiPort,
    httpAdminRoot: '/',
    flowFile: 'flows.json',
    // No secret: the credentials file stays plain JSON and Node-RED asks nothing at start.
    credentialSecret: false,
    // Info only to count the broker disconnections below; what is printed starts at warn.
    logging: { console: { level: 'info', metrics: false, audit: false } },
    diagnostics: { enabled: false, ui: false },
    telemetry: { enabled: false },
  };
  const settingsFile = path.join(userDir, 'settings.js');
  await writeFile(settingsFile, `module.exports = ${JSON.stringify(settings, null, 2)};\n`);
  await writeFile(
    path.join(userDir, 'flows.json'),
    JSON.stringify(flows(mqttPort, new URL(context.influx.url)), null, 2),
  );
  await writeFile(
    path.join(userDir, 'flows_cred.json'),
    JSON.stringify({
      'influxdb-config': {
        username: context.influx.adminUser,
        password: context.influx.adminPassword,
      },
    }),
  );
  const child = spawn(process.execPath, [redJs, '--userDir', userDir, '--settings', settingsFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Every failed write logs an error line, up to thousands a second: counted, not printed. A
  // disconnection from Mosquitto drops what it queued for Node-RED's clean session.
  const errors: Record<string, number> = {};
  const events = { disconnects: 0 };
  for (const stream of [child.stdout, child.stderr]) {
    // Lines without a level continue the message before them; Node-RED logs to stdout, so
    // stderr holds what went wrong outside its log, such as running out of memory.
    let level = stream === child.stderr ? 'warn' : 'info';
    createInterface({ input: stream }).on('line', (line) => {
      const entry = /- \[(\w+)\] (.*)$/.exec(line);
      if (entry) level = entry[1]!;
      const message = entry?.[2];
      if (level === 'error') {
        if (message) {
          const key = message.replace(/\d+/g, 'N');
          errors[key] = (errors[key] ?? 0) + 1;
        }
      } else if (message?.includes('Disconnected from broker')) {
        events.disconnects++;
      } else if (level !== 'info' && level !== 'debug' && line.trim()) {
        log(`node-red: ${line}`);
      }
    });
  }
  try {
    await waitForPort(uiPort, 60_000);
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  return { process: child, errors, events };
}

/**
 * Publishes a probe message until its four points are in InfluxDB with the device and metric
 * tags and the message's time: the subscription is only live some time after Node-RED
 * listens. Then empties the measurement again.
 */
async function probe(context: BenchContext, mqttUrl: string) {
  const client = await mqtt.connectAsync(mqttUrl, { clientId: 'node-red-probe', clean: true });
  try {
    const ts = Date.now() - 60_000;
    const payload = JSON.stringify({
      ts,
      readings: { temperature: 21.5, humidity: 48, pressure: 1013, battery: 3.9 },
    });
    const end = Date.now() + 60_000;
    for (;;) {
      await client.publishAsync('devices/probe/telemetry', payload, { qos: 1 });
      await sleep(1000);
      const series = await context.influxAdmin.query(
        `SELECT count(value) FROM readings WHERE device = 'probe' AND metric =~ /^(temperature|humidity|pressure|battery)$/ AND time = ${ts}ms`,
        { database: DATABASE },
      );
      if (series[0]?.values?.[0]?.[1] === READINGS_PER_MESSAGE) break;
      if (Date.now() > end) throw new Error('nothing in InfluxDB after 60 s');
    }
  } finally {
    await client.endAsync();
  }
  await context.influxAdmin.query('DROP SERIES FROM readings', { database: DATABASE });
}

interface Sample {
  at: number;
  count: number;
}

/** Counts the stored readings about once a second until stopped. */
function startSampler(context: BenchContext) {
  const samples: Sample[] = [];
  let running = true;
  const done = (async () => {
    while (running) {
      const started = performance.now();
      // An InfluxDB too busy to answer in time costs one sample, not the run.
      const count = await countReadings(context.influxAdmin, DATABASE).catch(() => null);
      // The count holds somewhere during the query; its middle is the best guess.
      if (count !== null) samples.push({ at: (started + performance.now()) / 2, count });
      await sleep(Math.max(0, 1000 - (performance.now() - started)));
    }
  })();
  return {
    samples,
    stop: async () => {
      running = false;
      await done;
    },
  };
}

/** The stored count at `at`, linearly between the samples around it. */
function countAt(samples: Sample[], at: number): number {
  const after = samples.findIndex((s) => s.at >= at);
  if (after === -1) return samples.at(-1)?.count ?? 0;
  if (after === 0) return samples[0]!.count;
  const a = samples[after - 1]!;
  const b = samples[after]!;
  return a.count + ((b.count - a.count) * (at - a.at)) / (b.at - a.at);
}

function peakRate(samples: Sample[], windowMs: number): number {
  let peak = 0;
  for (let i = 0, j = 0; i < samples.length; i++) {
    while (j < samples.length && samples[j]!.at - samples[i]!.at < windowMs) j++;
    if (j === samples.length) break;
    const rate =
      ((samples[j]!.count - samples[i]!.count) * 1000) / (samples[j]!.at - samples[i]!.at);
    peak = Math.max(peak, rate);
  }
  return peak;
}

/**
 * Waits until the sampled count reaches `expected`, or has not grown for 10 s while Node-RED sat
 * idle: a Node-RED busy with its backlog may store nothing for many seconds and then resume.
 * False when the wait ended first.
 */
async function drained(
  samples: Sample[],
  expected: number,
  nodeRed: ChildProcess,
  limitMs: number,
) {
  const end = performance.now() + limitMs;
  const cpu: number[] = [];
  while (performance.now() < end && nodeRed.exitCode === null && nodeRed.signalCode === null) {
    await sleep(1000);
    cpu.push(await processCpuSeconds(nodeRed.pid!).catch(() => cpu.at(-1) ?? 0));
    const last = samples.at(-1);
    if (!last) continue;
    if (last.count >= expected) return true;
    const grew = samples.findLast((s) => s.count < last.count);
    const idle = cpu.length > 5 && cpu.at(-1)! - cpu.at(-6)! < 0.25;
    if (idle && (!grew || last.at - grew.at > 10_000)) return true;
  }
  return false;
}

/**
 * Baseline (d) on a running Mosquitto: installs and starts Node-RED, checks the flow end to end,
 * runs the same ramp through it and stops Node-RED again. Skipped, with the reason, when
 * Node-RED cannot be installed or started, or the flow stores nothing.
 */
export async function nodeRedPipeline(
  context: BenchContext,
  broker: Broker,
  steps: Step[],
  devices: BenchDevice[],
): Promise<NodeRedOutcome> {
  const installed = await installNodeRed();
  const skip = (reason: string) => {
    log(`node-red: skipped: ${reason}`);
    return { skipped: reason };
  };
  if ('skipped' in installed) return skip(installed.skipped);
  await context.influxAdmin.query(`CREATE DATABASE ${DATABASE}`);
  let started;
  try {
    started = await startNodeRed(context, installed.redJs, broker.port);
  } catch (err) {
    return skip(`Node-RED did not start: ${String(err)}`);
  }
  const { process: nodeRed, errors, events } = started;
  try {
    try {
      await probe(context, broker.url);
    } catch (err) {
      return skip(`the flow did not store a probe message: ${String(err)}`);
    }
    const sampler = startSampler(context);
    let loadStart = 0;
    let complete = false;
    const cpu: { nodeRed: number; mosquitto: number }[] = [];
    const load = await runLoad(broker.url, devices, {
      steps,
      onConnected: () => void (loadStart = performance.now()),
      cpuOf: async () => {
        // A Node-RED that died of its backlog has no /proc entry left; its last reading stands.
        const [red, mosquitto] = await Promise.all([
          processCpuSeconds(nodeRed.pid!).catch(() => cpu.at(-1)?.nodeRed ?? 0),
          processCpuSeconds(broker.process.pid!),
        ]);
        cpu.push({ nodeRed: red, mosquitto });
        return red + mosquitto;
      },
      afterLoad: async (acked) => {
        complete = await drained(
          sampler.samples,
          acked * READINGS_PER_MESSAGE,
          nodeRed,
          drainLimitMs(context.quick),
        );
        return sampler.samples.at(-1)?.count ?? 0;
      },
    });
    await sampler.stop();
    const peakRssKiB = await readFile(`/proc/${nodeRed.pid}/status`, 'utf8').then(
      (status) => Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1]),
      () => NaN,
    );
    const { samples } = sampler;
    const stored = await countReadings(context.influxAdmin, DATABASE);
    const storedBy = samples.find((s) => s.count >= stored)?.at ?? performance.now();
    const published = load.sent * READINGS_PER_MESSAGE;
    let stepStart = loadStart;
    const perStep = steps.map((step) => {
      const from = countAt(samples, stepStart);
      stepStart += step.seconds * 1000;
      return {
        offered: step.rate,
        storedReadingsPerSecond: (countAt(samples, stepStart) - from) / step.seconds,
      };
    });
    const died =
      nodeRed.exitCode !== null || nodeRed.signalCode !== null
        ? `exit ${nodeRed.exitCode ?? nodeRed.signalCode}`
        : null;
    const nodeRedCpu = cpu[1]!.nodeRed - cpu[0]!.nodeRed;
    const mosquittoCpu = cpu[1]!.mosquitto - cpu[0]!.mosquitto;
    const perMillion = (seconds: number) => (stored > 0 ? (seconds / stored) * 1e6 : null);
    return {
      nodeRedVersion: NODE_RED_VERSION,
      influxdbNodesVersion: INFLUXDB_NODES_VERSION,
      database: DATABASE,
      load,
      steps: perStep,
      peakStoredReadingsPerSecond: peakRate(samples, steps[0]!.seconds * 1000),
      publishedReadings: published,
      storedReadings: stored,
      lostReadings: published - stored,
      storeSeconds: (storedBy - loadStart) / 1000,
      stillStoring: !complete && died === null,
      cpuSeconds: { nodeRed: nodeRedCpu, mosquitto: mosquittoCpu },
      cpuSecondsPerMillionStoredReadings: {
        nodeRed: perMillion(nodeRedCpu),
        mosquitto: perMillion(mosquittoCpu),
        pipeline: perMillion(nodeRedCpu + mosquittoCpu),
      },
      nodeRedPeakRssMiB: Number.isFinite(peakRssKiB) ? peakRssKiB / 1024 : null,
      errors,
      brokerDisconnects: events.disconnects,
      nodeRedDied: died,
    };
  } finally {
    await stopChild(nodeRed);
  }
}
