import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { z } from 'zod';
import { AppError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import { MailUnavailableError } from '../directory/mailer.js';
import { InfluxError } from '../influx/influx.client.js';
import type { TokenService } from './token.service.js';

declare module 'express-serve-static-core' {
  interface Request {
    id: string;
    log: Logger;
    userId?: string;
    /** The session of the access token; requireUser has checked that it is live (P9). */
    sessionId?: string;
  }
}

/** Lets route handlers be async without leaving a rejected promise unobserved. */
export function route(handler: (req: Request, res: Response) => Promise<void>): RequestHandler {
  return (req, res, next) => {
    handler(req, res).catch(next);
  };
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

export function requireUser(tokens: TokenService): RequestHandler {
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

export function userOf(req: Request): string {
  if (!req.userId) throw new AppError('UNAUTHENTICATED');
  return req.userId;
}

/** Every error leaves as `{ code, message, details? }`; nothing internal reaches the client. */
export function errorHandler() {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const appError = toAppError(err);
    if (appError.status >= 500) req.log.error({ err }, 'request failed');
    res.status(appError.status).json(appError.toBody());
  };
}

function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof SyntaxError && 'body' in err) return new AppError('VALIDATION_FAILED');
  if (isUnavailable(err)) return new AppError('SERVICE_UNAVAILABLE');
  return new AppError('INTERNAL');
}

/** Connection failures from pg, InfluxDB or the mail server: the API is fine, a service behind it is not. */
function isUnavailable(err: unknown): boolean {
  if (err instanceof InfluxError) return err.retryable;
  if (err instanceof MailUnavailableError) return true;
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: string }).code;
  return (
    code === 'ECONNREFUSED' ||
    code === '57P01' ||
    /Connection terminated|connect ECONNREFUSED|timeout exceeded when trying to connect/.test(
      err.message,
    )
  );
}
