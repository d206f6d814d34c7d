/**
 * Drives one MQTT broker with forked load generator processes (bench/load-generator.ts) over a
 * stepped rate plan, and sums up what they saw: PUBACKs per step, latencies, CPU of the server.
 */
import type { ChildProcess } from 'node:child_process';
import type { BenchDevice, ConnectOrder, ConnectResult, WorkerResult } from './load-generator.js';
import { forkTs, nextMessage, percentile, sleep, sum } from './kit.js';

export const READINGS_PER_MESSAGE = 4;
/** Two processes, so the load generator gets a core of its own when the server is idle. */
export const WORKERS = 2;

export interface Step {
  /** Messages per second over all load generators. */
  rate: number;
  seconds: number;
}

export interface LoadResult {
  devices: number;
  /** Per step: offered messages/s and PUBACKs/s received while the step ran. */
  steps: { offered: number; ackedPerSecond: number; p50Ms: number; p99Ms: number }[];
  /** PUBACK latency at the highest step that was still acknowledged at ≥ 95 % of its rate. */
  sustained: { offered: number; p50Ms: number; p99Ms: number } | null;
  /** The busiest step's PUBACKs/s, scaled by the share of readings found in storage. */
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
  /** CPU seconds of the server per million acknowledged (and, where counted, stored) readings. */
  cpuSecondsPerMillionReadings: number | null;
  /** Where the readings were counted in InfluxDB afterwards. */
  readingsInInflux?: number;
  /** The server's largest resident set size seen while the load ran, when sampled. */
  peakRssBytes?: number;
}

export interface LoadOptions {
  steps: Step[];
  /** CPU seconds of the server under test so far. */
  cpuOf: () => Promise<number>;
  /** Waits until storage holds the acknowledged readings; returns the readings it holds. */
  afterLoad?: (acked: number) => Promise<number>;
  /** Called once every connection is open, before the first publish. */
  onConnected?: () => void;
  /** Resident memory of the server under test, sampled while the load runs. */
  memoryOf?: () => Promise<number>;
}

/** Opens every device's connection in WORKERS processes; `ready` holds each one's account of it,
 * `close()` ends them. */
export async function connectWorkers(
  url: string,
  devices: BenchDevice[],
  options: Pick<ConnectOrder, 'concurrency' | 'countFailures'> = {},
) {
  const workers = Array.from({ length: WORKERS }, () => forkTs('load-generator.ts'));
  const close = () =>
    Promise.all(
      workers.map(async (worker: ChildProcess) => {
        if (worker.exitCode !== null) return;
        const exited = new Promise((resolve) => worker.once('exit', resolve));
        worker.send({ type: 'close' });
        await Promise.race([exited, sleep(5000)]);
        if (worker.exitCode === null) worker.kill('SIGKILL');
      }),
    ).then(() => undefined);
  try {
    const ready = await Promise.all(
      workers.map((worker, i) => {
        const ready = nextMessage<ConnectResult>(worker, 'ready');
        worker.send({
          type: 'connect',
          url,
          devices: devices.filter((_, d) => d % WORKERS === i),
          ...options,
        } satisfies ConnectOrder);
        return ready;
      }),
    );
    return { workers, ready, close };
  } catch (err) {
    await close();
    throw err;
  }
}

export async function runLoad(
  url: string,
  devices: BenchDevice[],
  options: LoadOptions,
): Promise<LoadResult> {
  const { workers, close } = await connectWorkers(url, devices);
  try {
    options.onConnected?.();
    const cpuBefore = await options.cpuOf();
    const memory = sampleMemory(options.memoryOf);
    const results = await Promise.all(
      workers.map((worker) => {
        const result = nextMessage<WorkerResult>(worker, 'result');
        worker.send({
          type: 'run',
          steps: options.steps.map((s) => ({ rate: s.rate / WORKERS, seconds: s.seconds })),
          drainSeconds: 30,
        });
        return result;
      }),
    );
    const acked = sum(results.map((r) => r.acked));
    const stored = options.afterLoad ? await options.afterLoad(acked) : undefined;
    const cpuSeconds = (await options.cpuOf()) - cpuBefore;
    const peakRssBytes = await memory.stop();
    return {
      ...summarise(devices.length, options.steps, results, cpuSeconds, stored),
      ...(peakRssBytes === undefined ? {} : { peakRssBytes }),
    };
  } finally {
    await close();
  }
}

/** Samples `memoryOf` twice a second until stopped; resolves the largest value seen. */
function sampleMemory(memoryOf: (() => Promise<number>) | undefined) {
  if (!memoryOf) return { stop: () => Promise.resolve(undefined) };
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      peak = Math.max(peak, await memoryOf().catch(() => 0));
      await sleep(500);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return peak;
    },
  };
}

function summarise(
  devices: number,
  plan: Step[],
  results: WorkerResult[],
  cpuSeconds: number,
  stored: number | undefined,
): LoadResult {
  const sent = sum(results.map((r) => r.sent));
  const acked = sum(results.map((r) => r.acked));
  const counted = stored === undefined ? acked : Math.min(acked, stored / READINGS_PER_MESSAGE);
  const startedAt = Math.min(...results.map((r) => r.startedAt));
  const lastAckAt = Math.max(...results.map((r) => r.lastAckAt));
  const seconds = (lastAckAt - startedAt) / 1000;
  const latencies = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const readings = counted * READINGS_PER_MESSAGE;
  const storedShare = acked > 0 ? counted / acked : 0;
  const steps = plan.map((s, i) => {
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
    devices,
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
}
