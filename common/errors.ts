/**
 * Every error code the platform returns, in one place. `docs/errors.md` documents each one and
 * a test fails when the two disagree, so clients can rely on the list.
 */
export const errorCatalogue = {
  VALIDATION_FAILED: { status: 400, message: 'The request is not valid.' },
  UNAUTHENTICATED: { status: 401, message: 'Sign in to continue.' },
  INVALID_CREDENTIALS: { status: 401, message: 'E-mail or password is wrong.' },
  FORBIDDEN: { status: 403, message: 'You do not have the role this needs.' },
  NOT_FOUND: { status: 404, message: 'There is nothing here.' },
  SERVICE_UNAVAILABLE: { status: 503, message: 'A storage service is unavailable; try again.' },
  INTERNAL: { status: 500, message: 'Something went wrong on our side.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

/** An error meant for the client: its code, status and message come from the catalogue. */
export class AppError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    readonly details?: unknown,
  ) {
    super(errorCatalogue[code].message);
    this.name = 'AppError';
    this.status = errorCatalogue[code].status;
  }

  toBody(): { code: ErrorCode; message: string; details?: unknown } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}
