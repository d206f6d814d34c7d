import { AppError, InternalError } from '../../common/errors.js';
import { directoryErrorCodes, type DirectoryErrorCode } from '../../directory/directory.errors.js';
import { telemetryErrorCodes, type TelemetryErrorCode } from '../../influx/telemetry.errors.js';

type InternalCode = DirectoryErrorCode | TelemetryErrorCode;

/**
 * What each zone's internal failure means to a client: the one table from internal codes to
 * API errors (docs/errors.md). A code missing here fails type-checking.
 */
const answers: Record<InternalCode, (err: InternalError<InternalCode>) => AppError> = {
  DIRECTORY_UNAVAILABLE: () => new AppError('SERVICE_UNAVAILABLE'),
  MAIL_UNAVAILABLE: () => new AppError('SERVICE_UNAVAILABLE'),
  TELEMETRY_UNAVAILABLE: () => new AppError('SERVICE_UNAVAILABLE'),
  // The API built a query InfluxDB refused: our fault, not the client's.
  TELEMETRY_REJECTED: () => new AppError('INTERNAL'),
  // Aggregates are refused before they are queried; a wider window answers the same range.
  // The routes validate first, so a query the readers refuse is a bug of ours.
  TELEMETRY_INVALID_QUERY: () => new AppError('INTERNAL'),
  TELEMETRY_RANGE_TOO_LARGE: (err) =>
    new AppError('VALIDATION_FAILED', [{ path: 'window', message: err.message }]),
};

const known = new Set<string>([...directoryErrorCodes, ...telemetryErrorCodes]);
const isKnown = (err: unknown): err is InternalError<InternalCode> =>
  err instanceof InternalError && known.has((err as InternalError).code);

/** The client's answer to an internal failure; undefined for anything that is not one. */
export function answerToInternalError(err: unknown): AppError | undefined {
  return isKnown(err) ? answers[err.code](err) : undefined;
}
