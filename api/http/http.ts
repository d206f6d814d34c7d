import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { z } from 'zod';
import { AppError } from '../../common/errors.js';
import { ForbiddenKeyError } from '../../common/json.js';
import type { Logger } from '../../common/logger.js';
import { answerToInternalError } from './internal-errors.js';

declare module 'express-serve-static-core' {
  interface Request {
    id: string;
    log: Logger;
    userId?: string;
    /** The session of the access token; requireUser has checked that it is live (P9). */
    sessionId?: string;
  }
}

/** Parses one part of a request with its schema; a failure is a 400 with zod's findings. */
export function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new AppError(
      'VALIDATION_FAILED',
      result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    );
  }
  return result.data;
}

export function requestContext(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const incoming = req.header('x-request-id');
    req.id = incoming && /^[\w-]{8,64}$/.test(incoming) ? incoming : randomUUID();
    req.log = logger.child({ requestId: req.id });
    res.setHeader('x-request-id', req.id);
    next();
  };
}

/** Checks an access token's signature and that its session is live. */
export interface AccessTokenVerifier {
  verify(token: string): Promise<{ userId: string; sessionId: string } | null>;
}

export function requireUser(tokens: AccessTokenVerifier): RequestHandler {
  return (req, _res, next) => {
    const header = req.header('authorization') ?? '';
    const match = /^Bearer ([\w-]+\.[\w-]+\.[\w-]+)$/.exec(header);
    const verified = match ? tokens.verify(match[1]!) : Promise.resolve(null);
    verified.then((claims) => {
      if (!claims) return next(new AppError('UNAUTHENTICATED'));
      req.userId = claims.userId;
      req.sessionId = claims.sessionId;
      next();
    }, next);
  };
}

/** Every error leaves as `{ code, message, details? }`; nothing internal reaches the client. */
export function errorHandler() {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const appError = toAppError(err);
    // req.log carries the request id, which the client also has (x-request-id).
    if (appError.status >= 500) req.log.error({ err }, 'request failed');
    // A stream already under way cannot turn into an error answer: cut it instead.
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const retryAfter = retryAfterOf(appError);
    if (retryAfter !== undefined) res.setHeader('Retry-After', String(retryAfter));
    res.status(appError.status).json(appError.toBody());
  };
}

/** Seconds a client should wait: what the error says (throttling), or 5 while a store is down. */
function retryAfterOf(error: AppError): number | undefined {
  const { retryAfterSeconds } = (error.details ?? {}) as { retryAfterSeconds?: unknown };
  if (typeof retryAfterSeconds === 'number') return retryAfterSeconds;
  return error.status === 503 ? 5 : undefined;
}

function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof ForbiddenKeyError) {
    return new AppError('VALIDATION_FAILED', [{ path: '', message: err.message }]);
  }
  if (err instanceof SyntaxError && 'body' in err) return new AppError('VALIDATION_FAILED');
  // The router decodes path parameters before any route runs (`%`, `%zz`, a cut UTF-8 escape).
  if (err instanceof URIError) {
    return new AppError('VALIDATION_FAILED', [
      { path: 'path', message: 'A path segment is not valid percent-encoded UTF-8.' },
    ]);
  }
  if (isBodyRefusal(err)) {
    if (err.type === 'entity.too.large') {
      return new AppError('PAYLOAD_TOO_LARGE', { limitBytes: err.limit });
    }
    return new AppError('VALIDATION_FAILED', [{ path: '', message: err.message }]);
  }
  return answerToInternalError(err) ?? new AppError('INTERNAL');
}

/**
 * express.json's own refusals of a body (too large, an unsupported charset or encoding, a body
 * that does not inflate): client errors with a 4xx status and a message meant to be shown
 * (`expose`); the inflate errors carry no `type`, so none is asked for.
 */
function isBodyRefusal(err: unknown): err is Error & { type?: unknown; limit?: unknown } {
  if (!(err instanceof Error)) return false;
  const { status, expose } = err as { status?: unknown; expose?: unknown };
  return expose === true && typeof status === 'number' && status >= 400 && status < 500;
}
