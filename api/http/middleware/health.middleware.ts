import { Router } from 'express';
import { AppError } from '../../../common/errors.js';

/** Each store the API needs, checked by a cheap round trip (`SELECT 1`, InfluxDB's /ping). */
export type ReadinessChecks = Record<string, () => Promise<unknown>>;

/** Rejects when `work` neither resolves nor rejects within `ms`. */
function within<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/**
 * `/healthz`: the process answers (liveness; no store is asked, so a Postgres outage does not
 * get the API restarted). `/readyz`: every store answered within `timeoutMs`, else 503
 * SERVICE_UNAVAILABLE naming which store is down, in the usual error format.
 */
export function healthRoutes(checks: ReadinessChecks, timeoutMs = 2000): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json({ status: 'ok' });
  });
  router.get('/readyz', (req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    const entries = Object.entries(checks);
    Promise.allSettled(entries.map(([, check]) => within(Promise.resolve().then(check), timeoutMs)))
      .then((results) => {
        const stores: Record<string, 'up' | 'down'> = {};
        const failures: Record<string, string> = {};
        entries.forEach(([name], i) => {
          const result = results[i]!;
          stores[name] = result.status === 'fulfilled' ? 'up' : 'down';
          if (result.status === 'rejected') failures[name] = String(result.reason);
        });
        if (Object.keys(failures).length === 0) {
          res.json({ status: 'ready', stores });
          return;
        }
        req.log.warn({ failures }, 'not ready');
        next(new AppError('SERVICE_UNAVAILABLE', { stores }));
      })
      .catch(next);
  });
  return router;
}
