import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { InfluxError } from '../../influx/influx.client.js';
import {
  startDrainer,
  SpoolNotDrainedError,
  type BatchResult,
} from '../../ingest/spool/spool-drainer.js';
import { SpoolSink } from '../../ingest/spool/spool.sink.js';
import {
  Spool,
  SpoolClosedError,
  SpoolFullError,
  type SpoolOptions,
} from '../../ingest/spool/spool.js';
import { PATIENCE_MS, until } from '../support/wait.js';

let dir: string;
const opened: Spool[] = [];

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'telemoat-spool-'));
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((spool) => spool.close()));
  await rm(dir, { recursive: true, force: true });
});

async function openSpool(options: Partial<SpoolOptions> = {}): Promise<Spool> {
  const spool = await Spool.open({ dir, maxBytes: 64 * 1024 * 1024, ...options });
  opened.push(spool);
  return spool;
}

async function readAll(spool: Spool): Promise<string[]> {
  const records: string[] = [];
  for (const segment of spool.sealedSegments()) {
    records.push(...(await spool.readSegment(segment.seq)).records);
  }
  return records;
}

async function segmentFiles(): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.endsWith('.seg')).sort();
}

async function bytesOnDisk(): Promise<number> {
  const sizes = await Promise.all(
    (await segmentFiles()).map(async (name) => (await stat(path.join(dir, name))).size),
  );
  return sizes.reduce((sum, size) => sum + size, 0);
}

const record = (i: number) => `m,k=v value=${i} ${i}\nm,k=w value=${i} ${i}`;

describe('Spool', () => {
  it('keeps records in order across several segments, and across a reopen', async () => {
    const spool = await openSpool({ segmentMaxBytes: 256, segmentMaxAgeMs: 60_000 });
    const appended = Array.from({ length: 40 }, (_, i) => record(i));
    for (const body of appended) await spool.append(body);
    await spool.seal();

    expect(spool.sealedSegments().length).toBeGreaterThan(3);
    expect(await segmentFiles()).toContain('0000000000000001.seg');
    expect(await readAll(spool)).toEqual(appended);
    expect(spool.stats().bytes).toBe(await bytesOnDisk());

    await spool.close();
    const reopened = await openSpool();
    expect(await readAll(reopened)).toEqual(appended);
    expect(reopened.stats().bytes).toBe(await bytesOnDisk());
  });

  it('commits thousands of concurrent appends with a handful of syncs', async () => {
    const spool = await openSpool({ segmentMaxAgeMs: 60_000 });
    const appended = Array.from({ length: 2_000 }, (_, i) => record(i));

    await Promise.all(appended.map((body) => spool.append(body)));
    await spool.seal();

    // One folder sync for the new segment, then one fdatasync per group.
    expect(spool.stats().syncs).toBeLessThanOrEqual(4);
    expect(await readAll(spool)).toEqual(appended);
  });

  it('refuses an append that would pass maxBytes and writes nothing of it', async () => {
    const spool = await openSpool({ maxBytes: 1_024, segmentMaxAgeMs: 60_000 });
    const body = 'x'.repeat(200);
    let accepted = 0;
    await expect(
      (async () => {
        for (;;) {
          await spool.append(body);
          accepted += 1;
        }
      })(),
    ).rejects.toBeInstanceOf(SpoolFullError);
    const before = await bytesOnDisk();

    await expect(spool.append(body)).rejects.toBeInstanceOf(SpoolFullError);

    expect(accepted).toBeGreaterThan(0);
    expect(await bytesOnDisk()).toBe(before);
    expect(spool.stats().bytes).toBe(before);
    expect(before).toBeLessThanOrEqual(1_024);

    // Draining makes room again.
    await spool.seal();
    const [segment] = spool.sealedSegments();
    await spool.remove(segment!.seq);
    await expect(spool.append(body)).resolves.toBeUndefined();
  });

  it('keeps the valid prefix of a segment whose last record was torn by a crash', async () => {
    const first = await openSpool({ segmentMaxAgeMs: 60_000 });
    for (const i of [1, 2, 3]) await first.append(record(i));
    await first.close();
    const [file] = await segmentFiles();
    const full = path.join(dir, file!);
    await truncate(full, (await stat(full)).size - 5);

    const reopened = await openSpool({ segmentMaxAgeMs: 60_000 });
    const [segment] = reopened.sealedSegments();
    const contents = await reopened.readSegment(segment!.seq);
    expect(contents.records).toEqual([record(1), record(2)]);
    expect(contents.discardedBytes).toBeGreaterThan(0);

    // The recovered segment stays sealed: new records go to a new one.
    await reopened.append(record(4));
    await reopened.seal();
    expect(reopened.sealedSegments().map((s) => s.seq)).toEqual([1, 2]);
    expect((await reopened.readSegment(2)).records).toEqual([record(4)]);
  });

  it('stops at a record whose checksum does not match', async () => {
    const first = await openSpool({ segmentMaxAgeMs: 60_000 });
    for (const i of [1, 2]) await first.append(record(i));
    await first.close();
    const full = path.join(dir, (await segmentFiles())[0]!);
    const data = await readFile(full);
    data.writeUInt8(data.readUInt8(data.length - 1) ^ 0xff, data.length - 1);
    await writeFile(full, data);

    const reopened = await openSpool();
    expect((await reopened.readSegment(1)).records).toEqual([record(1)]);
  });

  it('treats a segment whose header never reached the disk as empty', async () => {
    await writeFile(path.join(dir, '0000000000000007.seg'), Buffer.from('TMSP'));

    const spool = await openSpool();

    expect(await spool.readSegment(7)).toEqual({ records: [], discardedBytes: 4 });
    await spool.append(record(1));
    await spool.seal();
    expect(spool.sealedSegments().map((s) => s.seq)).toEqual([7, 8]);
  });

  it('seals a non-empty active segment after segmentMaxAgeMs and reports its age', async () => {
    // The age timer and the clock move only when the test moves them, however long the disk
    // takes; file I/O needs no timers.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    onTestFinished(() => void vi.useRealTimers());
    const spool = await openSpool({ segmentMaxAgeMs: 50 });
    expect(spool.stats()).toMatchObject({ bytes: 0, segments: 0, oldestAgeMs: 0 });

    await spool.append(record(1));
    vi.advanceTimersByTime(49);
    await spool.append(record(2));
    expect(spool.sealedSegments()).toEqual([]);
    expect(spool.stats()).toMatchObject({ segments: 1, oldestAgeMs: 49 });
    vi.advanceTimersByTime(1);
    await spool.waitForSealed();

    const [segment] = spool.sealedSegments();
    expect(segment).toMatchObject({ seq: 1 });
    expect((await spool.readSegment(1)).records).toEqual([record(1), record(2)]);
    vi.advanceTimersByTime(25);
    expect(spool.stats()).toMatchObject({ segments: 1, oldestAgeMs: 75 });

    await spool.remove(segment!.seq);
    expect(spool.stats()).toMatchObject({ bytes: 0, segments: 0, oldestAgeMs: 0 });
    expect(await segmentFiles()).toEqual([]);
  });

  it('moves a quarantined segment aside and never reuses its number', async () => {
    const spool = await openSpool({ segmentMaxAgeMs: 60_000 });
    await spool.append(record(1));
    await spool.seal();

    const moved = await spool.quarantine(1);
    await spool.close();
    const reopened = await openSpool({ segmentMaxAgeMs: 60_000 });
    await reopened.append(record(2));
    await reopened.seal();

    expect(moved).toBe(path.join(dir, 'quarantine', '0000000000000001.seg'));
    expect(await readdir(path.join(dir, 'quarantine'))).toEqual(['0000000000000001.seg']);
    expect(reopened.sealedSegments().map((s) => s.seq)).toEqual([2]);
  });

  it('refuses appends after close', async () => {
    const spool = await openSpool();
    await spool.close();
    await expect(spool.append(record(1))).rejects.toBeInstanceOf(SpoolClosedError);
  });
});

describe('SpoolSink', () => {
  it('appends the lines of one message as one record, and nothing for a bad point', async () => {
    const spool = await openSpool({ segmentMaxAgeMs: 60_000 });
    const sink = new SpoolSink(spool);
    const point = {
      tenantKey: 'a'.repeat(32),
      deviceKey: 'b'.repeat(32),
      metric: 'temperature',
      value: 21.5,
      time: 1_700_000_000_000,
    };

    await sink.write([point, { ...point, metric: 'door_open', value: true }]);
    await expect(sink.write([{ ...point, metric: 'Bad Metric' }])).rejects.toThrow();
    await spool.seal();

    expect(await readAll(spool)).toEqual([
      `readings,device=${'b'.repeat(32)},metric=temperature,tenant=${'a'.repeat(32)} value=21.5 1700000000000\n` +
        `readings,device=${'b'.repeat(32)},metric=door_open,tenant=${'a'.repeat(32)} flag=true 1700000000000`,
    ]);
  });
});

describe('startDrainer (with a stand-in for InfluxDB)', () => {
  const fast = { minBackoffMs: 5, maxBackoffMs: 20 };

  async function fill(spool: Spool, records: number, linesPerRecord: number): Promise<void> {
    let n = 0;
    const body = () => Array.from({ length: linesPerRecord }, () => `m value=1 ${n++}`).join('\n');
    for (let r = 0; r < records; r++) await spool.append(body());
    await spool.seal();
  }

  it('writes batches of batchLines with bounded concurrency and empties the spool', async () => {
    const spool = await openSpool({ segmentMaxBytes: 4_096, segmentMaxAgeMs: 60_000 });
    await fill(spool, 100, 30);
    let inFlight = 0;
    let maxInFlight = 0;
    const written: string[] = [];
    const drainer = startDrainer({
      spool,
      batchLines: 40,
      concurrency: 3,
      write: async (body) => {
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        await new Promise((resolve) => setTimeout(resolve, 2));
        written.push(...body.split('\n'));
        inFlight -= 1;
      },
    });

    await drainer.flush(PATIENCE_MS);
    await drainer.stop();

    expect(maxInFlight).toBe(3);
    expect(new Set(written).size).toBe(3_000);
    expect(written.length).toBe(3_000);
    expect(spool.stats()).toMatchObject({ bytes: 0, segments: 0 });
  });

  it('retries retryable failures and credential errors until InfluxDB accepts', async () => {
    const spool = await openSpool({ segmentMaxAgeMs: 60_000 });
    await fill(spool, 1, 10);
    const failures = [new InfluxError('down', 0), new InfluxError('busy', 503)];
    failures.push(new InfluxError('unauthorized', 401));
    const results: BatchResult[] = [];
    const drainer = startDrainer({
      spool,
      ...fast,
      write: () => {
        const failure = failures.shift();
        return failure ? Promise.reject(failure) : Promise.resolve();
      },
      onBatch: (result) => results.push(result),
    });

    await drainer.flush(PATIENCE_MS);
    await drainer.stop();

    expect(results.map((r) => r.ok)).toEqual([false, false, false, true]);
    expect(results.every((r) => r.lines === 10)).toBe(true);
    expect(await readdir(path.join(dir, 'quarantine'))).toEqual([]);
  });

  it('quarantines a segment InfluxDB refuses, reports it, and drains the later ones', async () => {
    const spool = await openSpool({ segmentMaxAgeMs: 60_000 });
    await spool.append('m value=true 1');
    await spool.seal();
    await fill(spool, 2, 5);
    const results: BatchResult[] = [];
    const errors: unknown[] = [];
    const drainer = startDrainer({
      spool,
      ...fast,
      write: (body) =>
        body.includes('value=true')
          ? Promise.reject(new InfluxError('field type conflict', 400))
          : Promise.resolve(),
      onBatch: (result) => results.push(result),
      log: { info: () => {}, warn: () => {}, error: (obj: unknown) => void errors.push(obj) },
    });

    await drainer.flush(PATIENCE_MS);
    await drainer.stop();

    expect(await readdir(path.join(dir, 'quarantine'))).toEqual(['0000000000000001.seg']);
    expect(results[0]).toMatchObject({ ok: false, lines: 1, error: { status: 400 } });
    expect(results.slice(1).every((r) => r.ok)).toBe(true);
    expect(errors).toHaveLength(1);
    expect(spool.stats().segments).toBe(0);
  });

  it('gives up a flush at its deadline and stops promptly, keeping the data', async () => {
    const spool = await openSpool({ segmentMaxAgeMs: 60_000 });
    await fill(spool, 3, 5);
    const bytes = spool.stats().bytes;
    let attempts = 0;
    const drainer = startDrainer({
      spool,
      // An hour's backoff: a stop that waited for it would outlast the test timeout.
      minBackoffMs: 3_600_000,
      maxBackoffMs: 3_600_000,
      write: () => {
        attempts += 1;
        return Promise.reject(new InfluxError('InfluxDB unreachable', 0));
      },
    });

    await until(() => attempts === 1, 'the first write attempt');
    await expect(drainer.flush(300)).rejects.toBeInstanceOf(SpoolNotDrainedError);
    await drainer.stop();

    expect(attempts).toBe(1);
    expect(spool.stats().bytes).toBe(bytes);
  });
});
