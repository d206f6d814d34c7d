import { InternalError } from '../common/errors.js';

/** Every code a telemetry failure carries, for the API's table that maps codes to answers. */
export const telemetryErrorCodes = [
  /** InfluxDB did not answer, timed out, broke off or failed on its side: worth trying again. */
  'TELEMETRY_UNAVAILABLE',
  /** InfluxDB refused the request (4xx): the same request would be refused again. */
  'TELEMETRY_REJECTED',
  /** An aggregate over more windows than an answer may hold; a wider window fits. */
  'TELEMETRY_RANGE_TOO_LARGE',
  /**
   * A query the API should never build: a key off the allowlist, an empty device list, a range
   * that ends before it starts. The readers check again what the routes validated.
   */
  'TELEMETRY_INVALID_QUERY',
] as const;

export type TelemetryErrorCode = (typeof telemetryErrorCodes)[number];

/** A failure of the telemetry zone as its callers see it: they act on the code alone. */
export class TelemetryError extends InternalError<TelemetryErrorCode> {}
