import { z } from 'zod';
import { maxEpochMs, metricName, readingValue, type Reading } from './reading.schema.js';

/*
 * SenML JSON (RFC 8428 §5), the part of it Telemoat can store: numbers and booleans of metrics.
 *
 * Names: the resolved name, base name + name (RFC 8428 §4.5.1), must be a Telemoat metric name,
 * `^[a-z][a-z0-9_]{0,63}$`, because metric names become InfluxDB tags. Device makers should use
 * names like `temperature`, or a base name as a prefix: `{"bn":"room_","n":"temperature"}`.
 * The URN-style names RFC 8428 §4.5.1 recommends (`urn:dev:ow:10e2073a01080063:temp`) are
 * refused: the broker already knows the device from its connection, and the allowlist is what
 * keeps tags free of escaping (see influx/line-protocol.ts).
 */

/**
 * One record, with only the fields we handle (RFC 8428 §4.1, §4.2); every other field is refused.
 * RFC 8428 §4.4 demands an error only for "must understand" fields, whose labels end in `_`, and
 * says other unknown fields are to be ignored. We refuse those too, on purpose: a device maker
 * then learns at once that a field has no effect here, instead of losing data without a word.
 * Among the refused fields are `vs` and `vd` (no strings or binary data reach InfluxDB), `s`
 * (sums are not supported) and `bs`.
 */
const record = z
  .strictObject({
    bn: z.string().optional(),
    bt: z.number().optional(),
    // Units, base units and update times are accepted and ignored: InfluxDB holds no units yet,
    // and nothing watches for silent sensors yet.
    bu: z.string().optional(),
    bv: z.number().optional(),
    // RFC 8428 §4.4: a pack of a version the receiver does not understand must not be used.
    bver: z.literal(10, { error: 'only SenML version 10 (RFC 8428) is supported' }).optional(),
    n: z.string().optional(),
    u: z.string().optional(),
    v: z.number().optional(),
    vb: z.boolean().optional(),
    t: z.number().optional(),
    ut: z.number().optional(),
  })
  // RFC 8428 §4.2: exactly one value field per record; with vs, vd and s refused, v or vb.
  .refine((r) => (r.v === undefined) !== (r.vb === undefined), 'needs exactly one of v and vb');

type SenmlRecord = z.output<typeof record>;

/** A record with the base fields applied (RFC 8428 §4.6), not yet checked. */
interface ResolvedRecord {
  name: string;
  value: number | boolean;
  /** Seconds, as in SenML. */
  time: number;
}

/**
 * RFC 8428 §4.6: a base field applies to the record it appears in and to every later record
 * until a record sets it again. A missing time or value counts as zero (§4.5.3, §4.5.4).
 */
function applyBaseFields(records: SenmlRecord[]): ResolvedRecord[] {
  let baseName = '';
  let baseTime = 0;
  let baseValue = 0;
  return records.map((r) => {
    baseName = r.bn ?? baseName;
    baseTime = r.bt ?? baseTime;
    baseValue = r.bv ?? baseValue;
    return {
      name: baseName + (r.n ?? ''),
      // RFC 8428 §4.5.4: the base value is added to numeric values; a boolean stays as it is.
      value: r.vb ?? baseValue + (r.v ?? 0),
      time: baseTime + (r.t ?? 0),
    };
  });
}

/** RFC 8428 §4.5.3: resolved times below 2^28 seconds are relative to now, the rest Unix time. */
const firstAbsoluteSecond = 2 ** 28;

function toReading({ name, value, time }: ResolvedRecord): Reading {
  const ms = Math.round(time * 1000);
  return {
    metric: name,
    value,
    time: time < firstAbsoluteSecond ? { afterReceiptMs: ms } : { epochMs: ms },
  };
}

/** A resolved record is stored only under the rules the Telemoat format follows. */
const resolvedRecord = z
  .object({
    name: metricName,
    // bv + v can overflow to Infinity even when both are finite.
    value: readingValue,
    // Beyond the range of a Date a time cannot be checked; the Telemoat `ts` has the same bound.
    time: z
      .number()
      .min(-maxEpochMs / 1000)
      .max(maxEpochMs / 1000),
  })
  .transform(toReading);

/** A SenML pack (RFC 8428 §5): a non-empty array of records, as readings. */
export const senmlPackSchema = z
  .array(record)
  .min(1)
  .transform(applyBaseFields)
  .pipe(z.array(resolvedRecord));
