import { z } from 'zod';
import type { ReadingPoint } from '../influx/reading-point.js';
import { telemetryPayloadSchema, type Reading, type ReadingTime } from './reading.schema.js';
import { senmlPackSchema } from './senml.schema.js';

/** Who published, as the broker authenticated it: pseudonyms only, no directory data. */
export interface DeviceIdentity {
  deviceId: string;
  deviceKey: string;
  tenantKey: string;
}

/** Where accepted readings go; resolves only once they are durable. */
export interface ReadingSink {
  write(points: readonly ReadingPoint[]): Promise<void>;
}

export interface IngestLimits {
  maxPayloadBytes: number;
  maxReadingsPerMessage: number;
  maxFutureMs: number;
  maxAgeMs: number;
}

/** The payload formats devices publish: Telemoat JSON, or SenML JSON (RFC 8428). */
export type PayloadFormat = 'telemoat' | 'senml';

/** Each format has its own schema; all of them produce the same readings. */
const payloadSchemas: Record<PayloadFormat, z.ZodType<Reading[]>> = {
  telemoat: telemetryPayloadSchema,
  senml: senmlPackSchema,
};

export type RejectReason =
  | 'payload_too_large'
  | 'bad_json'
  | 'bad_shape'
  | 'too_many_readings'
  | 'timestamp_in_future'
  | 'timestamp_too_old';

export type IngestResult =
  { accepted: true; readings: number } | { accepted: false; reason: RejectReason; detail: string };

export interface IngestDeps {
  sink: ReadingSink;
  limits: IngestLimits;
  now?: () => number;
}

class Rejection extends Error {
  constructor(
    readonly reason: RejectReason,
    detail: string,
  ) {
    super(detail);
  }
}

/**
 * The ingest flow: a list of small named steps. A message that breaks any rule is rejected
 * whole before anything reaches the sink, so a batch is never partly stored.
 */
export function createIngest(deps: IngestDeps) {
  const now = deps.now ?? Date.now;
  const { limits } = deps;

  function checkSize(payload: Buffer): Buffer {
    if (payload.length > limits.maxPayloadBytes) {
      throw new Rejection(
        'payload_too_large',
        `payload is ${payload.length} bytes, limit ${limits.maxPayloadBytes}`,
      );
    }
    return payload;
  }

  function parseJson(payload: Buffer): unknown {
    try {
      return JSON.parse(payload.toString('utf8'));
    } catch (err) {
      throw new Rejection('bad_json', (err as Error).message);
    }
  }

  function validate(format: PayloadFormat, json: unknown): Reading[] {
    const result = payloadSchemas[format].safeParse(json);
    if (!result.success) throw new Rejection('bad_shape', z.prettifyError(result.error));
    return result.data;
  }

  function toPoints(identity: DeviceIdentity, readings: Reading[]): ReadingPoint[] {
    if (readings.length > limits.maxReadingsPerMessage) {
      throw new Rejection(
        'too_many_readings',
        `${readings.length} readings, limit ${limits.maxReadingsPerMessage}`,
      );
    }
    const receivedAt = now();
    return readings.map(({ metric, value, time }) => ({
      tenantKey: identity.tenantKey,
      deviceKey: identity.deviceKey,
      metric,
      value,
      time: epochMs(time, receivedAt),
    }));
  }

  function checkTimes(points: ReadingPoint[]): ReadingPoint[] {
    const receivedAt = now();
    for (const point of points) {
      if (point.time > receivedAt + limits.maxFutureMs) {
        throw new Rejection(
          'timestamp_in_future',
          `${new Date(point.time).toISOString()} is too far ahead`,
        );
      }
      if (point.time < receivedAt - limits.maxAgeMs) {
        throw new Rejection(
          'timestamp_too_old',
          `${new Date(point.time).toISOString()} is older than the raw retention`,
        );
      }
    }
    return points;
  }

  return {
    async accept(
      identity: DeviceIdentity,
      format: PayloadFormat,
      payload: Buffer,
    ): Promise<IngestResult> {
      let points: ReadingPoint[];
      try {
        points = checkTimes(toPoints(identity, validate(format, parseJson(checkSize(payload)))));
      } catch (err) {
        if (err instanceof Rejection)
          return { accepted: false, reason: err.reason, detail: err.message };
        throw err;
      }
      await deps.sink.write(points);
      return { accepted: true, readings: points.length };
    },
  };
}

export type Ingest = ReturnType<typeof createIngest>;

/** A reading's time in epoch milliseconds; relative times count from the message's receipt. */
function epochMs(time: ReadingTime, receivedAt: number): number {
  return 'epochMs' in time ? time.epochMs : receivedAt + time.afterReceiptMs;
}
