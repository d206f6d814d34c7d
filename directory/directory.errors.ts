import { InternalError } from '../common/errors.js';

/** Every code a directory failure carries, for the API's table that maps codes to answers. */
export const directoryErrorCodes = [
  /** Postgres could not be reached, broke off, timed out or is shutting down: try again. */
  'DIRECTORY_UNAVAILABLE',
  /**
   * The mail server did not take a message. Each use case says what stays: an operator's
   * `create-org` commits nothing, an invitation stays until its link expires (P7).
   */
  'MAIL_UNAVAILABLE',
] as const;

export type DirectoryErrorCode = (typeof directoryErrorCodes)[number];

export class DirectoryError extends InternalError<DirectoryErrorCode> {}
