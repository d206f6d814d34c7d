import type { InfluxClient } from './influx.client.js';
import { toLine, type ReadingPoint } from './reading-point.js';

/** Writes readings with the ingest's InfluxDB user, which holds WRITE on one database only. */
export class ReadingsWriter {
  constructor(
    private readonly client: InfluxClient,
    private readonly database: string,
  ) {}

  /** Builds every line first, so a bad point fails the batch before anything is sent. */
  async write(points: readonly ReadingPoint[]): Promise<void> {
    if (points.length === 0) return;
    const body = points.map(toLine).join('\n');
    await this.client.write(this.database, body);
  }
}
