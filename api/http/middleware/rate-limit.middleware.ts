import type { Request, RequestHandler, Response } from 'express';
import { AppError } from '../../../common/errors.js';

export interface TokenBucketOptions {
  /** Requests allowed per minute; also the burst a fresh bucket allows. */
  perMinute: number;
  /** At most this many buckets are kept; the least recently used goes first. */
  maxBuckets?: number;
  now?: () => number;
}

export interface TakeResult {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the bucket is full again. */
  resetSeconds: number;
  /** Seconds until one more request is allowed (0 when allowed). */
  retryAfterSeconds: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/**
 * Token buckets in memory, one per key, refilled continuously at `perMinute` per minute. A
 * bucket that has refilled completely is the same as no bucket, so idle ones are dropped on a
 * sweep once a minute and the map never holds more than `maxBuckets`.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly capacity: number;
  private readonly perMs: number;
  private readonly maxBuckets: number;
  private readonly now: () => number;
  private lastSweep: number;

  constructor(options: TokenBucketOptions) {
    this.capacity = options.perMinute;
    this.perMs = options.perMinute / 60_000;
    this.maxBuckets = options.maxBuckets ?? 100_000;
    this.now = options.now ?? Date.now;
    this.lastSweep = this.now();
  }

  get size(): number {
    return this.buckets.size;
  }

  take(key: string): TakeResult {
    const now = this.now();
    if (now - this.lastSweep >= 60_000) this.sweep(now);
    const bucket = this.buckets.get(key) ?? { tokens: this.capacity, updatedAt: now };
    bucket.tokens = Math.min(this.capacity, bucket.tokens + (now - bucket.updatedAt) * this.perMs);
    bucket.updatedAt = now;
    const allowed = bucket.tokens >= 1;
    if (allowed) bucket.tokens -= 1;
    // Re-inserting keeps the map in least-recently-used order for the size bound.
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    if (this.buckets.size > this.maxBuckets) {
      const oldest = this.buckets.keys().next();
      if (!oldest.done) this.buckets.delete(oldest.value);
    }
    return {
      allowed,
      limit: this.capacity,
      remaining: Math.floor(bucket.tokens),
      resetSeconds: Math.ceil((this.capacity - bucket.tokens) / this.perMs / 1000),
      retryAfterSeconds: allowed
        ? 0
        : Math.max(1, Math.ceil((1 - bucket.tokens) / this.perMs / 1000)),
    };
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + (now - bucket.updatedAt) * this.perMs >= this.capacity) {
        this.buckets.delete(key);
      }
    }
  }
}

function answer(res: Response, result: TakeResult): void {
  res.setHeader('RateLimit-Limit', String(result.limit));
  res.setHeader('RateLimit-Remaining', String(result.remaining));
  res.setHeader('RateLimit-Reset', String(result.resetSeconds));
  if (!result.allowed) res.setHeader('Retry-After', String(result.retryAfterSeconds));
}

/** Limits requests per client address (the socket's: `trust proxy` is off). */
export function rateLimitPerIp(buckets: TokenBuckets): RequestHandler {
  return (req, res, next) => {
    const result = buckets.take(req.ip ?? req.socket.remoteAddress ?? 'unknown');
    answer(res, result);
    next(result.allowed ? undefined : new AppError('RATE_LIMITED'));
  };
}

/**
 * Wraps the sign-in check so that, once it has verified the access token, the user's own
 * bucket (keyed by the token's subject) is charged too. Unverified tokens never reach a bucket,
 * so nobody can spend someone else's allowance.
 */
export function rateLimitPerUser(
  requireUser: RequestHandler,
  buckets: TokenBuckets,
): RequestHandler {
  return (req: Request, res, next) => {
    void requireUser(req, res, (err?: unknown) => {
      if (err !== undefined || !req.userId) return next(err);
      const result = buckets.take(req.userId);
      answer(res, result);
      next(result.allowed ? undefined : new AppError('RATE_LIMITED'));
    });
  };
}
