import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from '../../common/logger.js';
import { InfluxError } from '../../influx/influx.client.js';
import type { SpoolStats, Spool } from './spool.js';

export interface BatchResult {
  lines: number;
  ms: number;
  ok: boolean;
  error?: Error;
}

export type DrainerLog = Pick<Logger, 'info' | 'warn' | 'error'>;

export interface DrainerDeps {
  spool: Spool;
  /** Writes one batch of line protocol; throws InfluxError (with `.retryable`) on failure. */
  write: (lines: string) => Promise<void>;
  /** Lines per write, give or take one record. */
  batchLines?: number;
  concurrency?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  log?: DrainerLog;
  /** Called after every write attempt, for metrics. */
  onBatch?: (result: BatchResult) => void;
}

export interface Drainer {
  /**
   * Seals the active segment and resolves once the spool is empty; rejects with
   * SpoolNotDrainedError when that takes longer than `timeoutMs` (e.g. InfluxDB is down).
   */
  flush(timeoutMs: number): Promise<void>;
  /** Takes no new batches, abandons retries, waits for writes in flight. Data stays spooled. */
  stop(): Promise<void>;
}

export class SpoolNotDrainedError extends Error {
  constructor(readonly remaining: SpoolStats) {
    super(`spool not drained: ${remaining.bytes} bytes in ${remaining.segments} segments remain`);
    this.name = 'SpoolNotDrainedError';
  }
}

type Outcome = { kind: 'written' } | { kind: 'rejected'; error: Error } | { kind: 'abandoned' };

interface Batch {
  body: string;
  lines: number;
}

/**
 * Statuses that say something about the writer's configuration or the server's load, not the
 * batch: quarantining on them would move the whole spool into quarantine during a bad deploy.
 */
const RETRY_DESPITE_4XX = new Set([401, 403, 404, 408, 429]);

const silentLog: DrainerLog = { info: () => {}, warn: () => {}, error: () => {} };

/**
 * Moves sealed spool segments into InfluxDB, oldest first, with up to `concurrency` batch
 * writes in flight. A segment is deleted only after every batch of it was confirmed, so a crash
 * at any point replays it, and InfluxDB overwrites a point with the same series and time: a
 * replay is idempotent.
 */
export function startDrainer(deps: DrainerDeps): Drainer {
  const { spool } = deps;
  const batchLines = deps.batchLines ?? 5000;
  const concurrency = deps.concurrency ?? 4;
  const minBackoffMs = deps.minBackoffMs ?? 200;
  const maxBackoffMs = deps.maxBackoffMs ?? 30_000;
  const log = deps.log ?? silentLog;

  const stopping = new AbortController();
  const stopped = new Promise<void>((resolve) =>
    stopping.signal.addEventListener('abort', () => resolve(), { once: true }),
  );
  const batchesInFlight = new Set<Promise<Outcome>>();
  const settling = new Set<Promise<void>>();
  let settledWaiters: (() => void)[] = [];
  /** The newest segment handed to batches; later ones are still to do. */
  let cursor = 0;

  function backoffMs(attempt: number): number {
    const ceiling = Math.min(maxBackoffMs, minBackoffMs * 2 ** attempt);
    // Jitter: parallel batches (and brokers) must not hit a recovering InfluxDB in lockstep.
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  /** Waits before a retry; false when the drainer stops meanwhile. */
  async function pause(attempt: number): Promise<boolean> {
    if (stopping.signal.aborted) return false;
    try {
      await delay(backoffMs(attempt), undefined, { signal: stopping.signal });
      return true;
    } catch {
      return false;
    }
  }

  /** A metrics callback must never break delivery. */
  function report(result: BatchResult): void {
    try {
      deps.onBatch?.(result);
    } catch (err) {
      log.error({ err }, 'onBatch callback failed');
    }
  }

  /** One write attempt; returns its error, if any. */
  async function writeOnce(batch: Batch): Promise<Error | undefined> {
    const started = performance.now();
    let error: Error | undefined;
    try {
      await deps.write(batch.body);
    } catch (err) {
      error = err instanceof Error ? err : new Error(String(err));
    }
    report({ lines: batch.lines, ms: performance.now() - started, ok: !error, error });
    return error;
  }

  async function deliver(batch: Batch): Promise<Outcome> {
    for (let attempt = 0; ; attempt++) {
      const error = await writeOnce(batch);
      if (!error) {
        if (attempt > 0) log.info({ lines: batch.lines, attempt }, 'InfluxDB write succeeded');
        return { kind: 'written' };
      }
      if (rejectsData(error)) return { kind: 'rejected', error };
      // Retried forever: an acknowledged reading may only leave the spool through InfluxDB.
      log.warn({ err: error, lines: batch.lines, attempt }, 'InfluxDB write failed; will retry');
      if (!(await pause(attempt))) return { kind: 'abandoned' };
    }
  }

  async function waitForBatchSlot(): Promise<void> {
    while (batchesInFlight.size >= concurrency) await Promise.race(batchesInFlight);
  }

  function startBatch(batch: Batch): Promise<Outcome> {
    const outcome = deliver(batch);
    batchesInFlight.add(outcome);
    void outcome.finally(() => batchesInFlight.delete(outcome));
    return outcome;
  }

  /** Removes or quarantines a segment once all its batches are done; retried on disk errors. */
  async function settle(seq: number, outcomes: Promise<Outcome>[], total: number): Promise<void> {
    const results = await Promise.all(outcomes);
    if (results.length < total || results.some((r) => r.kind === 'abandoned')) return;
    const rejection = results.find((r) => r.kind === 'rejected');
    for (let attempt = 0; ; attempt++) {
      try {
        if (rejection) await quarantine(seq, rejection.error);
        else await spool.remove(seq);
        break;
      } catch (err) {
        log.error({ err, seq, attempt }, 'could not retire a drained spool segment; will retry');
        if (!(await pause(attempt))) return;
      }
    }
    wakeSettledWaiters();
  }

  async function quarantine(seq: number, error: Error): Promise<void> {
    const file = await spool.quarantine(seq);
    // Nothing is dropped silently: the segment waits in quarantine for an operator.
    log.error({ err: error, seq, file }, 'InfluxDB rejected a spool segment; moved to quarantine');
  }

  async function drainSegment(seq: number): Promise<void> {
    const { records, discardedBytes } = await spool.readSegment(seq);
    cursor = seq;
    if (discardedBytes > 0) {
      // A torn tail is what a crash mid-append leaves; its append never resolved.
      log.warn({ seq, discardedBytes }, 'ignored an invalid tail in a spool segment');
    }
    const batches = toBatches(records, batchLines);
    const outcomes: Promise<Outcome>[] = [];
    for (const batch of batches) {
      await waitForBatchSlot();
      if (stopping.signal.aborted) break;
      outcomes.push(startBatch(batch));
    }
    const settled = settle(seq, outcomes, batches.length);
    settling.add(settled);
    void settled.finally(() => settling.delete(settled));
  }

  async function run(): Promise<void> {
    for (let failures = 0; !stopping.signal.aborted;) {
      const next = spool.nextSealed(cursor);
      if (!next) {
        await Promise.race([spool.waitForSealed(cursor), stopped]);
        continue;
      }
      try {
        await drainSegment(next.seq);
        failures = 0;
      } catch (err) {
        log.error({ err, seq: next.seq }, 'could not read a spool segment; will retry');
        await pause(failures++);
      }
    }
  }

  function wakeSettledWaiters(): void {
    const waiters = settledWaiters;
    settledWaiters = [];
    for (const wake of waiters) wake();
  }

  function nextSettlement(): Promise<void> {
    return new Promise((resolve) => settledWaiters.push(resolve));
  }

  const running = run();

  return {
    async flush(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      await spool.seal();
      while (spool.stats().segments > 0) {
        const left = deadline - Date.now();
        if (left <= 0) throw new SpoolNotDrainedError(spool.stats());
        await within(nextSettlement(), left);
      }
    },
    async stop() {
      stopping.abort();
      await running;
      await Promise.all(batchesInFlight);
      await Promise.all(settling);
    },
  };
}

/** A 4xx other than the writer's own problems: InfluxDB will refuse this batch every time. */
function rejectsData(error: Error): boolean {
  return error instanceof InfluxError && !error.retryable && !RETRY_DESPITE_4XX.has(error.status);
}

/**
 * Groups whole records into bodies of about `batchLines` lines (a body passes the mark by less
 * than one record). Records are '\n'-joined lines and are never split: splitting every line
 * into a string of its own only to join them again cost the broker's thread more than the
 * batching is worth.
 */
function toBatches(records: readonly string[], batchLines: number): Batch[] {
  const batches: Batch[] = [];
  let group: string[] = [];
  let lines = 0;
  for (const record of records) {
    if (record === '') continue;
    group.push(record);
    lines += lineCount(record);
    if (lines >= batchLines) {
      batches.push({ body: group.join('\n'), lines });
      group = [];
      lines = 0;
    }
  }
  if (group.length > 0) batches.push({ body: group.join('\n'), lines });
  return batches;
}

function lineCount(record: string): number {
  let count = 1;
  for (let at = record.indexOf('\n'); at !== -1; at = record.indexOf('\n', at + 1)) count++;
  return count;
}

/** Resolves when `promise` does or after `ms`, whichever comes first. */
function within(promise: Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    void promise.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
