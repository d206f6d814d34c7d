/**
 * Every error code the platform returns, in one place. `docs/errors.md` documents each one and
 * a test fails when the two disagree, so clients can rely on the list.
 */
export const errorCatalogue = {
  VALIDATION_FAILED: { status: 400, message: 'The request is not valid.' },
  WEAK_PASSWORD: { status: 400, message: 'Choose a longer or a less common password.' },
  TERMS_NOT_ACCEPTED: { status: 400, message: 'Accept the current privacy terms to continue.' },
  TOKEN_INVALID: { status: 400, message: 'This link is not valid; it may be used or expired.' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is larger than this API accepts.' },
  UNAUTHENTICATED: { status: 401, message: 'Sign in to continue.' },
  INVALID_CREDENTIALS: { status: 401, message: 'E-mail or password is wrong.' },
  FORBIDDEN: { status: 403, message: 'You do not have the role this needs.' },
  CSRF_REJECTED: { status: 403, message: 'This request needs the x-telemoat-csrf: 1 header.' },
  TOO_MANY_ATTEMPTS: { status: 429, message: 'Too many failed sign-ins; wait and try again.' },
  RATE_LIMITED: { status: 429, message: 'Too many requests; wait and try again.' },
  OIDC_FAILED: { status: 401, message: 'Sign-in with the identity provider failed.' },
  NOT_FOUND: { status: 404, message: 'There is nothing here.' },
  CONFLICT: { status: 409, message: 'This conflicts with the current state; nothing changed.' },
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

/**
 * A failure one zone reports to another (telemetry, directory, mail): never meant for a client
 * as it is. Each zone names its own codes; the API maps every code to a client error in one
 * table (`api/http/internal-errors.ts`), so nothing is recognised by its message text.
 */
export class InternalError<Code extends string = string> extends Error {
  constructor(
    readonly code: Code,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}
