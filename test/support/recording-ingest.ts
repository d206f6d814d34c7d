import {
  createIngest,
  type IngestLimits,
  type PayloadFormat,
} from '../../ingest/ingest.pipeline.js';
import type { ReadingPoint } from '../../ingest/reading-point.js';

/** The unit tests' fixed "now", so times in expectations are exact. */
export const testNow = Date.parse('2026-11-21T12:00:00Z');

/** Ingest limits for unit tests: the production age and future windows, small sizes. */
export function testIngestLimits(
  sizes: Pick<IngestLimits, 'maxPayloadBytes' | 'maxReadingsPerMessage'>,
): IngestLimits {
  return { ...sizes, maxFutureMs: 5 * 60_000, maxAgeMs: 30 * 86_400_000 };
}

export const testIdentity = {
  deviceId: 'dev_1',
  deviceKey: 'a'.repeat(32),
  tenantKey: 'b'.repeat(32),
};

/**
 * The ingest pipeline with a sink that records what it was given, standing in for the spool
 * in unit tests. `accept` takes an object (sent as JSON) or a raw string payload.
 */
export function recordingIngest(limits: IngestLimits, now: number, defaultFormat: PayloadFormat) {
  const written: ReadingPoint[][] = [];
  const ingest = createIngest({
    sink: { write: (points) => Promise.resolve(void written.push([...points])) },
    limits,
    now: () => now,
  });
  const accept = (payload: unknown, format: PayloadFormat = defaultFormat) =>
    ingest.accept(
      testIdentity,
      format,
      Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)),
    );
  return { written, accept };
}
