import { toLine } from '../../influx/line-protocol.js';
import type { ReadingPoint } from '../reading-point.js';
import type { ReadingSink } from '../ingest.pipeline.js';
import type { Spool } from './spool.js';

/** The broker's sink: a message counts as stored once its lines are durable in the spool. */
export class SpoolSink implements ReadingSink {
  constructor(private readonly spool: Pick<Spool, 'append'>) {}

  /** Builds every line first, so a bad point fails the message before anything is spooled. */
  async write(points: readonly ReadingPoint[]): Promise<void> {
    await this.appendLines(points.map(toLine));
  }

  /** Appends already-built line protocol (any measurement) as one record. */
  async appendLines(lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return;
    await this.spool.append(lines.join('\n'));
  }
}
