import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import { newPseudonym } from '../../common/ids.js';
import { InfluxClient, rowsOf } from '../../influx/influx.client.js';
import { toLine } from '../../influx/line-protocol.js';
import type { ReadingPoint } from '../../ingest/reading-point.js';
import { startDrainer, type BatchResult } from '../../ingest/spool/spool-drainer.js';
import { SpoolSink } from '../../ingest/spool/spool.sink.js';
import { Spool } from '../../ingest/spool/spool.js';
import { startInflux, type LocalInflux } from '../../servers/local-servers.js';
import { until } from '../support/wait.js';

/**
 * The spool and its drainer against a real InfluxDB of this file's own, so it can be stopped
 * and restarted without disturbing the other test files.
 */

const MAX_BYTES = 256 * 1024 * 1024;
const FAST_RETRY = { minBackoffMs: 50, maxBackoffMs: 500 };

let root: string;
let influxDir: string;
let influx: LocalInflux;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'telemoat-spool-drainer-'));
  // mkdtemp makes a 0700 folder; keep it traversable like the shared servers' folder.
  await chmod(root, 0o755);
  influxDir = path.join(root, 'influx');
  influx = await startInflux({ dataDir: influxDir });
});

afterAll(async () => {
  await influx.stop();
  await rm(root, { recursive: true, force: true });
});

/** A client for whichever InfluxDB runs now: a restart may move it to another port. */
function admin(): InfluxClient {
  return new InfluxClient({
    url: influx.url,
    username: influx.adminUser,
    password: influx.adminPassword,
  });
}

async function createDatabase(): Promise<string> {
  const name = `spool_${randomBytes(4).toString('hex')}`;
  await admin().query(`CREATE DATABASE "${name}"`);
  return name;
}

async function countReadings(database: string): Promise<number> {
  const [series] = await admin().query('SELECT count(value) FROM readings', { database });
  return series ? Number(rowsOf(series)[0]?.count) : 0;
}

async function storedValues(database: string): Promise<number[]> {
  const [series] = await admin().query('SELECT value FROM readings', { database });
  return series ? rowsOf(series).map((row) => Number(row.value)) : [];
}

async function openSpool(name: string): Promise<Spool> {
  return Spool.open({ dir: path.join(root, name), maxBytes: MAX_BYTES, segmentMaxAgeMs: 50 });
}

/** One device's readings with distinct timestamps, so InfluxDB keeps each as its own point. */
function readings(count: number, first = 0): ReadingPoint[] {
  const tenantKey = newPseudonym();
  const deviceKey = newPseudonym();
  const base = Date.now() - 3_600_000;
  return Array.from({ length: count }, (_, i) => ({
    tenantKey,
    deviceKey,
    metric: 'temperature',
    value: first + i,
    time: base + first + i,
  }));
}

function chunks<T>(items: T[], size: number): T[][] {
  return Array.from({ length: Math.ceil(items.length / size) }, (_, i) =>
    items.slice(i * size, (i + 1) * size),
  );
}

/** A drainer into `database` that retries fast and keeps every batch's result. */
function recordingDrainer(spool: Spool, database: string) {
  const results: BatchResult[] = [];
  const drainer = startDrainer({
    spool,
    ...FAST_RETRY,
    write: (lines) => admin().write(database, lines, { gzip: true }),
    onBatch: (result) => results.push(result),
  });
  return { drainer, results };
}

describe('spool drainer with a real InfluxDB', () => {
  it('delivers 20,000 accepted lines exactly once, gzip-compressed in batches', async () => {
    const database = await createDatabase();
    const spool = await openSpool('all-arrive');
    const sink = new SpoolSink(spool);
    const sent: number[] = [];
    const fetchSpy = vi.spyOn(globalThis, 'fetch');
    onTestFinished(() => fetchSpy.mockRestore());
    const drainer = startDrainer({
      spool,
      batchLines: 5_000,
      write: (lines) => admin().write(database, lines, { gzip: true }),
      onBatch: (result) => {
        if (result.ok) sent.push(result.lines);
      },
    });

    try {
      await Promise.all(chunks(readings(20_000), 10).map((points) => sink.write(points)));
      await drainer.flush(30_000);
    } finally {
      await drainer.stop();
      await spool.close();
    }

    expect(await countReadings(database)).toBe(20_000);
    expect(sent.reduce((a, b) => a + b, 0)).toBe(20_000);
    expect(Math.max(...sent)).toBeLessThanOrEqual(5_000);
    const writes = fetchSpy.mock.calls.filter(
      ([url]) => url instanceof URL && url.pathname === '/write',
    );
    expect(writes).toHaveLength(sent.length);
    const linesSent = writes.map(([, init]) => {
      expect(init?.headers).toMatchObject({ 'content-encoding': 'gzip' });
      return gunzipSync(init?.body as Buffer)
        .toString('utf8')
        .split('\n').length;
    });
    expect(linesSent.reduce((a, b) => a + b, 0)).toBe(20_000);
    expect(spool.stats()).toMatchObject({ bytes: 0, segments: 0 });
  });

  it('keeps accepting while InfluxDB is down and delivers everything once it is back', async () => {
    const database = await createDatabase();
    const spool = await openSpool('outage');
    const sink = new SpoolSink(spool);
    const { drainer, results } = recordingDrainer(spool, database);

    try {
      await influx.stop();
      await Promise.all(chunks(readings(5_000), 50).map((points) => sink.write(points)));
      await until(() => results.filter((r) => !r.ok).length >= 3, 'three failed writes');
      expect(results.every((r) => !r.ok)).toBe(true);
      expect(spool.stats().bytes).toBeGreaterThan(0);

      influx = await startInflux({ dataDir: influxDir, port: influx.port });
      await drainer.flush(30_000);
    } finally {
      await drainer.stop();
      await spool.close();
    }

    expect(await countReadings(database)).toBe(5_000);
    expect(spool.stats()).toMatchObject({ bytes: 0, segments: 0 });
  }, 120_000);

  it('delivers every acknowledged reading after the process is killed with SIGKILL', async () => {
    const database = await createDatabase();
    const dir = path.join(root, 'killed');
    const acked = await runWriterUntilKilled(dir, 2_000);

    const spool = await Spool.open({ dir, maxBytes: MAX_BYTES });
    const recovered = await recordsIn(spool);
    const drainer = startDrainer({
      spool,
      write: (lines) => admin().write(database, lines, { gzip: true }),
    });
    try {
      await drainer.flush(30_000);
    } finally {
      await drainer.stop();
      await spool.close();
    }

    const stored = new Set(await storedValues(database));
    expect([...acked].filter((n) => !stored.has(n))).toEqual([]);
    // Appends in flight at the kill may have reached the disk too; nothing else may appear.
    expect(stored.size).toBe(recovered);
    expect(recovered).toBeGreaterThanOrEqual(acked.size);
  }, 60_000);

  it('replays a segment whose confirmation was lost, without duplicating points', async () => {
    const database = await createDatabase();
    let sentLines = 0;
    const first = await openSpool('replay');
    const sink = new SpoolSink(first);
    await Promise.all(chunks(readings(3_000), 10).map((points) => sink.write(points)));
    // InfluxDB stores each batch, but the drainer never hears back (a crash right after).
    const lostAnswers = startDrainer({
      spool: first,
      ...FAST_RETRY,
      write: async (lines) => {
        await admin().write(database, lines, { gzip: true });
        sentLines += lines.split('\n').length;
        throw new Error('connection reset before the response');
      },
    });
    await first.seal();
    await until(() => sentLines >= 3_000, 'every line sent once');
    await lostAnswers.stop();
    await first.close();

    const second = await openSpool('replay');
    expect(second.stats().segments).toBeGreaterThan(0);
    const drainer = startDrainer({
      spool: second,
      write: async (lines) => {
        await admin().write(database, lines, { gzip: true });
        sentLines += lines.split('\n').length;
      },
    });
    try {
      await drainer.flush(30_000);
    } finally {
      await drainer.stop();
      await second.close();
    }

    expect(sentLines).toBeGreaterThanOrEqual(6_000);
    expect(await countReadings(database)).toBe(3_000);
    expect(second.stats()).toMatchObject({ bytes: 0, segments: 0 });
  });

  it('quarantines a segment InfluxDB rejects with 400 and keeps draining later ones', async () => {
    const database = await createDatabase();
    const [floatPoint, ...later] = readings(1_001);
    // `value` becomes a float field; a boolean in it is a field-type conflict (400).
    await admin().write(database, toLine(floatPoint!));
    const conflict = toLine({ ...floatPoint!, time: floatPoint!.time - 1 }).replace(
      /value=\S+/,
      'value=true',
    );
    const spool = await openSpool('refused');
    const { drainer, results } = recordingDrainer(spool, database);

    try {
      await spool.append(conflict);
      await spool.seal();
      await new SpoolSink(spool).write(later);
      await drainer.flush(30_000);
    } finally {
      await drainer.stop();
      await spool.close();
    }

    const quarantined = await readdir(path.join(root, 'refused', 'quarantine'));
    expect(quarantined).toHaveLength(1);
    const file = path.join(root, 'refused', 'quarantine', quarantined[0]!);
    expect((await readFile(file)).toString('utf8')).toContain('value=true');
    expect(results.filter((r) => !r.ok)).toMatchObject([{ lines: 1, error: { status: 400 } }]);
    expect(await countReadings(database)).toBe(1_001);
    expect(spool.stats()).toMatchObject({ bytes: 0, segments: 0 });
  });
});

/**
 * Runs a separate Node process that appends readings from 32 concurrent writers and prints
 * each value once its append resolved (= PUBACK), then kills it with SIGKILL after `acks`.
 * Returns the acknowledged values.
 */
async function runWriterUntilKilled(dir: string, acks: number): Promise<Set<number>> {
  const script = path.join(root, 'spool-writer.mjs');
  await writeFile(
    script,
    `
const [spoolModule, pointModule, dir, tenantKey, deviceKey, base] = process.argv.slice(2);
const { Spool } = await import(spoolModule);
const { toLine } = await import(pointModule);
const spool = await Spool.open({ dir, maxBytes: ${MAX_BYTES}, segmentMaxBytes: 65536, segmentMaxAgeMs: 50 });
let next = 0;
async function writer() {
  for (;;) {
    const n = next++;
    await spool.append(toLine({ tenantKey, deviceKey, metric: 'temperature', value: n, time: Number(base) + n }));
    process.stdout.write(n + '\\n');
  }
}
for (let i = 0; i < 32; i++) void writer();
`,
  );
  const moduleUrl = (file: string) => pathToFileURL(path.resolve(file)).href;
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      script,
      moduleUrl('ingest/spool/spool.ts'),
      moduleUrl('influx/line-protocol.ts'),
      dir,
      newPseudonym(),
      newPseudonym(),
      String(Date.now() - 3_600_000),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const acked = new Set<number>();
  let pending = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const lines = (pending + chunk.toString('utf8')).split('\n');
    // Only complete lines are acknowledgements.
    pending = lines.pop() ?? '';
    for (const line of lines) acked.add(Number(line));
    if (acked.size >= acks) child.kill('SIGKILL');
  });
  const signal = await new Promise<NodeJS.Signals | null>((resolve) =>
    child.once('close', (_code, closeSignal) => resolve(closeSignal)),
  );
  expect(signal).toBe('SIGKILL');
  return acked;
}

async function recordsIn(spool: Spool): Promise<number> {
  let records = 0;
  for (const segment of spool.sealedSegments()) {
    records += (await spool.readSegment(segment.seq)).records.length;
  }
  return records;
}
