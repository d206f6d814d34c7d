import pg from 'pg';
import { idleConnectionFailure, type Logger } from '../common/logger.js';
import { runDirectoryJobs, type DirectoryJobsResult } from '../directory/jobs/directory-jobs.js';
import type { JobsConfig } from './jobs.config.js';

/** The jobs' composition root: one small pool as `telemoat_jobs`, nothing else. */
export function jobsPool(config: JobsConfig, logger: Logger): pg.Pool {
  const pool = new pg.Pool({ connectionString: config.JOBS_DATABASE_URL, max: 2 });
  pool.on('error', idleConnectionFailure(logger.child({ module: 'jobs' })));
  return pool;
}

const retentionOf = (config: JobsConfig) => ({
  securityEventsDays: config.SECURITY_EVENTS_RETENTION_DAYS,
});

/** Runs every job once (`telemoat run-jobs`). */
export async function runJobsOnce(
  config: JobsConfig,
  logger: Logger,
): Promise<DirectoryJobsResult> {
  const pool = jobsPool(config, logger);
  try {
    return await runDirectoryJobs(pool, retentionOf(config));
  } finally {
    await pool.end();
  }
}

/**
 * Runs the jobs at start and then every JOBS_INTERVAL_MS, one run at a time. A failed run is
 * logged and retried at the next interval; nothing it would delete is lost by waiting.
 */
export function startJobs(config: JobsConfig, logger: Logger) {
  const log = logger.child({ module: 'jobs' });
  const pool = jobsPool(config, logger);
  const runOnce = async () => {
    try {
      const result = await runDirectoryJobs(pool, retentionOf(config));
      log.info({ result }, 'retention jobs ran');
    } catch (err) {
      log.error({ err }, 'retention jobs failed; retrying at the next interval');
    }
  };
  let running = runOnce();
  const timer = setInterval(() => {
    running = running.then(runOnce);
  }, config.JOBS_INTERVAL_MS);
  log.info({ intervalMs: config.JOBS_INTERVAL_MS }, 'retention jobs scheduled');
  return {
    async close() {
      clearInterval(timer);
      await running;
      await pool.end();
    },
  };
}
