import { z } from 'zod';
import { metricPattern } from '../common/ids.js';

/** RFC 3339 with an explicit offset, or epoch milliseconds. */
const timestamp = z.union([
  z.number().int().nonnegative().max(8.64e15),
  z.iso.datetime({ offset: true }).transform((value) => Date.parse(value)),
]);

/** A reading value: finite numbers and booleans only. JSON has no NaN, and strings never pass. */
const value = z.union([z.number().refine(Number.isFinite, 'must be finite'), z.boolean()]);

const message = z.strictObject({
  ts: timestamp.optional(),
  readings: z
    .record(
      z.string().regex(metricPattern, `metric names must match ${metricPattern.source}`),
      value,
    )
    .refine((readings) => Object.keys(readings).length > 0, 'must hold at least one reading'),
});

/** Telemoat JSON: one message or an array of them (docs/devices.md). */
export const telemetryPayloadSchema = z.union([message, z.array(message).min(1)]);

export type TelemetryMessage = z.output<typeof message>;
