import { z } from 'zod';
import type { ReadingPoint } from '../influx/reading-point.js';
import { telemetryPayloadSchema, type TelemetryMessage } from './reading.schema.js';

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

  function validateShape(json: unknown): TelemetryMessage[] {
    const result = telemetryPayloadSchema.safeParse(json);
    if (!result.success) throw new Rejection('bad_shape', z.prettifyError(result.error));
    return Array.isArray(result.data) ? result.data : [result.data];
  }

  function toPoints(identity: DeviceIdentity, messages: TelemetryMessage[]): ReadingPoint[] {
    const receivedAt = now();
    const points = messages.flatMap((m) =>
      Object.entries(m.readings).map(([metric, value]) => ({
        tenantKey: identity.tenantKey,
        deviceKey: identity.deviceKey,
        metric,
        value,
        time: m.ts ?? receivedAt,
      })),
    );
    if (points.length > limits.maxReadingsPerMessage) {
      throw new Rejection(
        'too_many_readings',
        `${points.length} readings, limit ${limits.maxReadingsPerMessage}`,
      );
    }
    return points;
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
    async accept(identity: DeviceIdentity, payload: Buffer): Promise<IngestResult> {
      let points: ReadingPoint[];
      try {
        points = checkTimes(toPoints(identity, validateShape(parseJson(checkSize(payload)))));
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
