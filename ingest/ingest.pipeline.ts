import { z } from 'zod';
import type { ReadingPoint } from './reading-point.js';
import { telemetryPayloadSchema, type Reading, type ReadingTime } from './reading.schema.js';
import { senmlPackSchema } from './senml.schema.js';
import { ForbiddenKeyError, parseUntrustedJson } from '../common/json.js';

/** Who published, as the broker authenticated it: pseudonyms only, no directory data. */
export interface DeviceIdentity {
  deviceId: string;
  deviceKey: string;
  tenantKey: string;
  /**
   * The tenant's storage region, for when readings may be kept in more than one place; left out
   * while every tenant's readings go to the one InfluxDB.
   */
  region?: string;
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

type Rejected = Extract<IngestResult, { accepted: false }>;

/** One message on its way through the steps: each step fills in what the next ones read. */
interface IngestContext {
  readonly identity: DeviceIdentity;
  readonly format: PayloadFormat;
  readonly payload: Buffer;
  json: unknown;
  readings: readonly Reading[];
  points: readonly ReadingPoint[];
}

/** A step either leaves the message to the next one or rejects it, with the reason. */
type IngestStep = (message: IngestContext) => Rejected | undefined;

/** What the context holds before a step has filled it in: shared, so no message allocates it. */
const NOTHING: readonly never[] = Object.freeze([]);

function reject(reason: RejectReason, detail: string): Rejected {
  return { accepted: false, reason, detail };
}

/**
 * The ingest flow: a list of small named steps, run in order over one context per message. A
 * message that breaks any rule is rejected whole before anything reaches the sink, so a batch
 * is never partly stored. The steps are made once per pipeline, not per message: this is the
 * broker's hot path.
 */
export function createIngest(deps: IngestDeps) {
  const now = deps.now ?? Date.now;
  const { limits } = deps;

  function checkSize({ payload }: IngestContext): Rejected | undefined {
    if (payload.length <= limits.maxPayloadBytes) return undefined;
    return reject(
      'payload_too_large',
      `payload is ${payload.length} bytes, limit ${limits.maxPayloadBytes}`,
    );
  }

  function parseJson(message: IngestContext): Rejected | undefined {
    try {
      message.json = parseUntrustedJson(message.payload.toString('utf8'));
      return undefined;
    } catch (err) {
      // Well-formed JSON, but a key no message of any format may hold: a shape error.
      return reject(
        err instanceof ForbiddenKeyError ? 'bad_shape' : 'bad_json',
        (err as Error).message,
      );
    }
  }

  function validate(message: IngestContext): Rejected | undefined {
    const result = payloadSchemas[message.format].safeParse(message.json);
    if (!result.success) return reject('bad_shape', z.prettifyError(result.error));
    message.readings = result.data;
    return undefined;
  }

  function countReadings({ readings }: IngestContext): Rejected | undefined {
    if (readings.length <= limits.maxReadingsPerMessage) return undefined;
    return reject(
      'too_many_readings',
      `${readings.length} readings, limit ${limits.maxReadingsPerMessage}`,
    );
  }

  function toPoints(message: IngestContext): undefined {
    const { identity } = message;
    const receivedAt = now();
    message.points = message.readings.map(({ metric, value, time }) => ({
      tenantKey: identity.tenantKey,
      deviceKey: identity.deviceKey,
      metric,
      value,
      time: epochMs(time, receivedAt),
    }));
  }

  function checkTimes({ points }: IngestContext): Rejected | undefined {
    const receivedAt = now();
    for (const point of points) {
      if (point.time > receivedAt + limits.maxFutureMs) {
        return reject(
          'timestamp_in_future',
          `${new Date(point.time).toISOString()} is too far ahead`,
        );
      }
      if (point.time < receivedAt - limits.maxAgeMs) {
        return reject(
          'timestamp_too_old',
          `${new Date(point.time).toISOString()} is older than the raw retention`,
        );
      }
    }
    return undefined;
  }

  const steps: readonly IngestStep[] = [
    checkSize,
    parseJson,
    validate,
    countReadings,
    toPoints,
    checkTimes,
  ];

  return {
    async accept(
      identity: DeviceIdentity,
      format: PayloadFormat,
      payload: Buffer,
    ): Promise<IngestResult> {
      const message: IngestContext = {
        identity,
        format,
        payload,
        json: undefined,
        readings: NOTHING,
        points: NOTHING,
      };
      for (const step of steps) {
        const rejected = step(message);
        if (rejected) return rejected;
      }
      await deps.sink.write(message.points);
      return { accepted: true, readings: message.points.length };
    },
  };
}

export type Ingest = ReturnType<typeof createIngest>;

/** A reading's time in epoch milliseconds; relative times count from the message's receipt. */
function epochMs(time: ReadingTime, receivedAt: number): number {
  return 'epochMs' in time ? time.epochMs : receivedAt + time.afterReceiptMs;
}
