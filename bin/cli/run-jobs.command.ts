import { loadConfig } from '../../common/config.js';
import { createLogger } from '../../common/logger.js';
import { jobsConfigSchema } from '../jobs.config.js';
import { runJobsOnce } from '../jobs.js';
import { print, type Command } from './command.js';

export const runJobsCommand: Command = {
  usage:
    'run-jobs                         run every retention job now (directory: invitations, registrations, security records), as telemoat_jobs',
  async run(options) {
    options.rejectUnknown();
    const config = loadConfig('jobs', jobsConfigSchema, process.env);
    const result = await runJobsOnce(
      config,
      createLogger({ name: 'jobs', level: config.LOG_LEVEL }),
    );
    print(`run-jobs: ${JSON.stringify(result)}`);
  },
};
