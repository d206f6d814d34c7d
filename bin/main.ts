import { apiConfigSchema } from '../api/api.config.js';
import { brokerConfigSchema } from '../broker/broker.config.js';
import { ConfigError, loadConfig } from '../common/config.js';
import { createLogger } from '../common/logger.js';
import { startApi } from './api.js';
import { startBroker } from './broker.js';
import { jobsConfigSchema } from './jobs.config.js';
import { startJobs } from './jobs.js';
import { runMain } from './run-main.js';
import { setupConfigSchema } from './setup.config.js';
import { runSetup } from './setup.js';

/**
 * Entry point of a deployment (see docker-compose.yml): `main.ts setup|broker|api|jobs`. This file
 * alone reads `process.env`; everything below it receives parsed configuration.
 */
const components = {
  async setup() {
    const config = loadConfig('setup', setupConfigSchema, process.env);
    await runSetup(config, createLogger({ name: 'setup', level: config.LOG_LEVEL }));
    return { close: async () => {} };
  },
  async broker() {
    const config = loadConfig('broker', brokerConfigSchema, process.env);
    return startBroker(config, createLogger({ name: 'broker', level: config.LOG_LEVEL }));
  },
  async api() {
    const config = loadConfig('api', apiConfigSchema, process.env);
    return startApi(config, createLogger({ name: 'api', level: config.LOG_LEVEL }));
  },
  async jobs() {
    const config = loadConfig('jobs', jobsConfigSchema, process.env);
    return Promise.resolve(
      startJobs(config, createLogger({ name: 'jobs', level: config.LOG_LEVEL })),
    );
  },
};

const name = process.argv[2];
runMain(`telemoat ${name ?? ''}`.trim(), async () => {
  if (name !== 'setup' && name !== 'broker' && name !== 'api' && name !== 'jobs') {
    throw new ConfigError('command line', ['usage: main.ts setup|broker|api|jobs']);
  }
  const running = await components[name]();
  if (name === 'setup') process.exit(0);
  return running;
});
