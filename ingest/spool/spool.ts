import {
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  type FileHandle,
} from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';

/**
 * A write-ahead spool: accepted readings are appended to segment files and fdatasync'ed before
 * the broker sends PUBACK, and a drainer moves sealed segments on to InfluxDB. One process owns
 * a spool folder at a time.
 *
 * Segment file: a 16-byte header (magic `TMSPOOL1`, creation time as float64 LE epoch ms),
 * then records. Record: payload length (uint32 LE), CRC32 of length field + payload (uint32
 * LE), payload (UTF-8 line protocol). A record that fails its length or CRC check ends the
 * segment: it is a torn tail whose append never resolved.
 */

export interface SpoolOptions {
  dir: string;
  /** Bound on sealed + active bytes; an append that would pass it fails with SpoolFullError. */
  maxBytes: number;
  /** A segment is sealed once the next group commit would take it past this size. */
  segmentMaxBytes?: number;
  /** A non-empty active segment is sealed after this long, so the drainer sees data quickly. */
  segmentMaxAgeMs?: number;
}

export interface SegmentInfo {
  seq: number;
  bytes: number;
  /** Epoch ms when the segment's first record arrived. */
  createdAt: number;
}

export interface SegmentContents {
  records: string[];
  /** Bytes after the last valid record: a torn tail from a crash, or corruption. */
  discardedBytes: number;
}

export interface SpoolStats {
  /** Sealed + active bytes on disk. */
  bytes: number;
  segments: number;
  /** Age of the oldest data not yet drained; 0 when the spool is empty. */
  oldestAgeMs: number;
  /** fsync/fdatasync calls so far: group commit keeps this far below the number of appends. */
  syncs: number;
}

export class SpoolFullError extends Error {
  constructor(maxBytes: number) {
    super(`spool is full (limit ${maxBytes} bytes)`);
    this.name = 'SpoolFullError';
  }
}

export class SpoolClosedError extends Error {
  constructor() {
    super('spool is closed');
    this.name = 'SpoolClosedError';
  }
}

const DEFAULT_SEGMENT_MAX_BYTES = 8 * 1024 * 1024;
const DEFAULT_SEGMENT_MAX_AGE_MS = 200;
const MAGIC = Buffer.from('TMSPOOL1', 'latin1');
const SEGMENT_HEADER_BYTES = 16;
const RECORD_HEADER_BYTES = 8;
const SEQ_DIGITS = 16;
const SEGMENT_NAME = new RegExp(`^(\\d{${SEQ_DIGITS}})\\.seg$`);
const QUARANTINE_DIR = 'quarantine';

interface ActiveSegment extends SegmentInfo {
  handle: FileHandle;
  ageTimer: NodeJS.Timeout;
}

interface PendingAppend {
  frame: Buffer;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class Spool {
  private active: ActiveSegment | undefined;
  private queue: PendingAppend[] = [];
  private queuedBytes = 0;
  private commitScheduled = false;
  private closed = false;
  private syncs = 0;
  /** Every file operation runs on this chain, so seals never interleave with a group commit. */
  private tail: Promise<void> = Promise.resolve();
  private sealWaiters: (() => void)[] = [];

  private constructor(
    private readonly dir: string,
    private readonly maxBytes: number,
    private readonly segmentMaxBytes: number,
    private readonly segmentMaxAgeMs: number,
    private readonly sealed: SegmentInfo[],
    private nextSeq: number,
    private bytes: number,
  ) {}

  /** Opens `dir`, treating every existing segment as sealed: its writer may have been killed. */
  static async open(options: SpoolOptions): Promise<Spool> {
    const dir = path.resolve(options.dir);
    await mkdir(path.join(dir, QUARANTINE_DIR), { recursive: true });
    const seqs = await segmentSeqs(dir);
    // Quarantined names count too, so a quarantined segment is never overwritten by a new one.
    const quarantined = await segmentSeqs(path.join(dir, QUARANTINE_DIR));
    const lastSeq = [...seqs, ...quarantined].reduce((max, seq) => Math.max(max, seq), 0);
    const sealed: SegmentInfo[] = [];
    // One at a time: a long outage can leave more segments than the process may open files.
    for (const seq of seqs) sealed.push(await describeSegment(dir, seq));
    const bytes = sealed.reduce((sum, segment) => sum + segment.bytes, 0);
    return new Spool(
      dir,
      options.maxBytes,
      options.segmentMaxBytes ?? DEFAULT_SEGMENT_MAX_BYTES,
      options.segmentMaxAgeMs ?? DEFAULT_SEGMENT_MAX_AGE_MS,
      sealed,
      lastSeq + 1,
      bytes,
    );
  }

  /**
   * Appends one record; resolves once it is on disk and fdatasync'ed, because the broker
   * acknowledges the message (PUBACK) as soon as this resolves.
   */
  append(body: string): Promise<void> {
    if (this.closed) return Promise.reject(new SpoolClosedError());
    const frame = encodeRecord(body);
    // A segment header's worth of headroom: the group may have to open a new segment.
    const needed = this.bytes + this.queuedBytes + frame.length + SEGMENT_HEADER_BYTES;
    if (needed > this.maxBytes) return Promise.reject(new SpoolFullError(this.maxBytes));
    return new Promise((resolve, reject) => {
      this.queue.push({ frame, resolve, reject });
      this.queuedBytes += frame.length;
      this.scheduleCommit();
    });
  }

  /** Sealed segments, oldest first. */
  sealedSegments(): SegmentInfo[] {
    return this.sealed.map(({ seq, bytes, createdAt }) => ({ seq, bytes, createdAt }));
  }

  /** The oldest sealed segment numbered above `afterSeq`. */
  nextSealed(afterSeq: number): SegmentInfo | undefined {
    const segment = this.sealed.find((candidate) => candidate.seq > afterSeq);
    return segment && { ...segment };
  }

  /** Resolves once a sealed segment numbered above `afterSeq` exists (at once if one does). */
  waitForSealed(afterSeq = 0): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if ((this.sealed.at(-1)?.seq ?? 0) > afterSeq) resolve();
        else this.sealWaiters.push(check);
      };
      check();
    });
  }

  /** The valid records of a sealed segment, in append order. */
  async readSegment(seq: number): Promise<SegmentContents> {
    this.requireSealed(seq);
    return decodeSegment(await readFile(segmentPath(this.dir, seq)));
  }

  /**
   * Deletes a sealed segment once the drainer has every record of it confirmed. The folder is
   * not synced: if a crash undoes the unlink, the replay only rewrites identical points.
   */
  async remove(seq: number): Promise<void> {
    this.requireSealed(seq);
    await rm(segmentPath(this.dir, seq));
    this.forget(seq);
  }

  /** Moves a sealed segment InfluxDB refuses into `quarantine/` for an operator; returns its path. */
  async quarantine(seq: number): Promise<string> {
    this.requireSealed(seq);
    const target = segmentPath(path.join(this.dir, QUARANTINE_DIR), seq);
    await rename(segmentPath(this.dir, seq), target);
    this.forget(seq);
    return target;
  }

  /** Seals the active segment now (shutdown flush), after the appends already queued. */
  seal(): Promise<void> {
    return this.exclusive(() => this.sealActive());
  }

  stats(): SpoolStats {
    const oldest = this.sealed[0]?.createdAt ?? this.active?.createdAt;
    return {
      bytes: this.bytes,
      segments: this.sealed.length + (this.active ? 1 : 0),
      oldestAgeMs: oldest === undefined ? 0 : Math.max(0, Date.now() - oldest),
      syncs: this.syncs,
    };
  }

  /** Commits the appends already queued, seals the active segment and refuses new appends. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.exclusive(() => this.sealActive());
  }

  private exclusive(task: () => Promise<void>): Promise<void> {
    const run = this.tail.then(task);
    this.tail = run.catch(() => {});
    return run;
  }

  /**
   * Group commit: one task is queued at a time and takes every append waiting when it starts,
   * so appends that arrive during a write + fdatasync share the next one.
   */
  private scheduleCommit(): void {
    if (this.commitScheduled) return;
    this.commitScheduled = true;
    void this.exclusive(() => {
      this.commitScheduled = false;
      const group = this.queue;
      this.queue = [];
      return this.commitGroup(group);
    });
  }

  private async commitGroup(group: PendingAppend[]): Promise<void> {
    const data = Buffer.concat(group.map((pending) => pending.frame));
    this.queuedBytes -= data.length;
    try {
      const segment = await this.segmentFor(data.length);
      // Counted before writing: a failed write may still have put some of these bytes on disk.
      segment.bytes += data.length;
      this.bytes += data.length;
      await segment.handle.writeFile(data);
      // fdatasync: PUBACK promises durability, and a crash must not lose an acknowledged record.
      await segment.handle.datasync();
      this.syncs += 1;
    } catch (err) {
      // After a failed write or fdatasync the page cache state is unknown (Linux may drop the
      // dirty pages and report success later), so nothing more is appended to this segment.
      await this.sealActive();
      for (const pending of group) pending.reject(err);
      return;
    }
    for (const pending of group) pending.resolve();
  }

  private async segmentFor(size: number): Promise<ActiveSegment> {
    if (this.active && this.active.bytes + size > this.segmentMaxBytes) await this.sealActive();
    return this.active ?? (await this.createSegment());
  }

  private async createSegment(): Promise<ActiveSegment> {
    const seq = this.nextSeq;
    this.nextSeq += 1;
    const file = segmentPath(this.dir, seq);
    const createdAt = Date.now();
    const handle = await open(file, 'wx');
    try {
      await handle.writeFile(segmentHeader(createdAt));
      // The file's data is fdatasync'ed with its first group; its name needs the folder synced.
      await syncDir(this.dir);
      this.syncs += 1;
    } catch (err) {
      await handle.close();
      await rm(file, { force: true });
      throw err;
    }
    const ageTimer = setTimeout(
      () => void this.exclusive(() => this.sealIfActive(seq)),
      this.segmentMaxAgeMs,
    );
    // An idle spool must not keep the process alive.
    ageTimer.unref();
    this.active = { seq, bytes: SEGMENT_HEADER_BYTES, createdAt, handle, ageTimer };
    this.bytes += SEGMENT_HEADER_BYTES;
    return this.active;
  }

  private async sealIfActive(seq: number): Promise<void> {
    if (this.active?.seq === seq) await this.sealActive();
  }

  private async sealActive(): Promise<void> {
    const segment = this.active;
    if (!segment) return;
    this.active = undefined;
    clearTimeout(segment.ageTimer);
    this.sealed.push({ seq: segment.seq, bytes: segment.bytes, createdAt: segment.createdAt });
    this.wakeSealWaiters();
    // Every acknowledged byte was fdatasync'ed already, so a failing close loses nothing.
    await segment.handle.close().catch(() => {});
  }

  private wakeSealWaiters(): void {
    const waiters = this.sealWaiters;
    this.sealWaiters = [];
    for (const wake of waiters) wake();
  }

  private requireSealed(seq: number): number {
    const index = this.sealed.findIndex((segment) => segment.seq === seq);
    if (index < 0) throw new Error(`segment ${seq} is not a sealed segment of this spool`);
    return index;
  }

  private forget(seq: number): void {
    const [segment] = this.sealed.splice(this.requireSealed(seq), 1);
    this.bytes -= segment?.bytes ?? 0;
  }
}

// zlib.crc32 arrived in Node 20.15; package.json allows any Node 20.
const crc32: (data: Uint8Array, value?: number) => number =
  typeof zlib.crc32 === 'function' ? zlib.crc32 : tableCrc32;

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});

function tableCrc32(data: Uint8Array, value = 0): number {
  let crc = ~value;
  for (const byte of data) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}

/** Encodes straight into the frame: one allocation per append, on the broker's hot path. */
function encodeRecord(body: string): Buffer {
  const length = Buffer.byteLength(body, 'utf8');
  const frame = Buffer.allocUnsafe(RECORD_HEADER_BYTES + length);
  frame.writeUInt32LE(length, 0);
  frame.write(body, RECORD_HEADER_BYTES, 'utf8');
  const payload = frame.subarray(RECORD_HEADER_BYTES);
  frame.writeUInt32LE(crc32(payload, crc32(frame.subarray(0, 4))), 4);
  return frame;
}

function decodeSegment(data: Buffer): SegmentContents {
  const records: string[] = [];
  if (!hasHeader(data)) return { records, discardedBytes: data.length };
  let offset = SEGMENT_HEADER_BYTES;
  while (offset + RECORD_HEADER_BYTES <= data.length) {
    const length = data.readUInt32LE(offset);
    const start = offset + RECORD_HEADER_BYTES;
    if (start + length > data.length) break;
    const payload = data.subarray(start, start + length);
    const expected = crc32(payload, crc32(data.subarray(offset, offset + 4)));
    if (data.readUInt32LE(offset + 4) !== expected) break;
    records.push(payload.toString('utf8'));
    offset = start + length;
  }
  return { records, discardedBytes: data.length - offset };
}

function segmentHeader(createdAt: number): Buffer {
  const header = Buffer.alloc(SEGMENT_HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeDoubleLE(createdAt, MAGIC.length);
  return header;
}

function hasHeader(data: Buffer): boolean {
  return data.length >= SEGMENT_HEADER_BYTES && data.subarray(0, MAGIC.length).equals(MAGIC);
}

async function describeSegment(dir: string, seq: number): Promise<SegmentInfo> {
  const file = segmentPath(dir, seq);
  const [info, head] = await Promise.all([stat(file), readHead(file)]);
  // A header torn by a crash means no record was ever acknowledged; the file's time will do.
  const createdAt = hasHeader(head) ? head.readDoubleLE(MAGIC.length) : info.mtimeMs;
  return { seq, bytes: info.size, createdAt };
}

async function readHead(file: string): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(SEGMENT_HEADER_BYTES);
    const { bytesRead } = await handle.read(head, 0, SEGMENT_HEADER_BYTES, 0);
    return head.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

async function segmentSeqs(dir: string): Promise<number[]> {
  const names = await readdir(dir);
  return names
    .map((name) => SEGMENT_NAME.exec(name)?.[1])
    .filter((digits): digits is string => digits !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

function segmentPath(dir: string, seq: number): string {
  return path.join(dir, `${String(seq).padStart(SEQ_DIGITS, '0')}.seg`);
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
