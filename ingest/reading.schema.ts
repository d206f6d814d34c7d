import { z } from 'zod';
import { metricPattern } from '../common/ids.js';

/** The last instant a JavaScript Date can hold: later times can be neither checked nor stored. */
export const maxEpochMs = 8.64e15;

/** RFC 3339 with an explicit offset, or epoch milliseconds. */
const timestamp = z.union([
  z.number().int().nonnegative().max(maxEpochMs),
  z.iso.datetime({ offset: true }).transform((value) => Date.parse(value)),
]);

/** Metric names become InfluxDB tags, so they are allowlisted rather than escaped. */
export const metricName = z
  .string()
  .regex(metricPattern, `metric names must match ${metricPattern.source}`);

/** A reading value: finite numbers and booleans only. JSON has no NaN, and strings never pass. */
export const readingValue = z.union([
  z.number().refine(Number.isFinite, 'must be finite'),
  z.boolean(),
]);

/**
 * When a reading was taken: epoch milliseconds, or milliseconds after the message was received
 * (a Telemoat message without `ts`, a SenML relative time). The pipeline resolves the latter with
 * its own clock, so every format shares one notion of "now".
 */
export type ReadingTime = { epochMs: number } | { afterReceiptMs: number };

/** One reading, whatever format it arrived in: what the ingest pipeline turns into a point. */
export interface Reading {
  metric: string;
  value: number | boolean;
  time: ReadingTime;
}

const message = z.strictObject({
  ts: timestamp.optional(),
  readings: z
    .record(metricName, readingValue)
    .refine((readings) => Object.keys(readings).length > 0, 'must hold at least one reading'),
});

export type TelemetryMessage = z.output<typeof message>;

/** Telemoat JSON: one message or an array of them (docs/devices.md), as readings. */
export const telemetryPayloadSchema = z
  .union([message, z.array(message).min(1)])
  .transform(toReadings);

function toReadings(payload: TelemetryMessage | TelemetryMessage[]): Reading[] {
  const messages = Array.isArray(payload) ? payload : [payload];
  return messages.flatMap(({ ts, readings }) => {
    const time: ReadingTime = ts === undefined ? { afterReceiptMs: 0 } : { epochMs: ts };
    return Object.entries(readings).map(([metric, value]) => ({ metric, value, time }));
  });
}
