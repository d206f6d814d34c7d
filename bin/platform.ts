import { apiConfigSchema } from '../api/api.config.js';
import { brokerConfigSchema } from '../broker/broker.config.js';
import { loadConfigs } from '../common/config.js';
import type { Logger } from '../common/logger.js';
import { startApi, type ApiHooks } from './api.js';
import { startBroker } from './broker.js';
import { jobsConfigSchema } from './jobs.config.js';
import { startJobs } from './jobs.js';
import { setupConfigSchema } from './setup.config.js';
import { runSetup } from './setup.js';

export type Env = Record<string, string | undefined>;

/**
 * Every component in one process, each with its own configuration, role and credentials, as
 * in a deployment. Used by the local start-up and the end-to-end tests. All four schemas are
 * checked before anything starts, so one attempt reports every bad key.
 */
export async function startPlatform(env: Env, logger: Logger, hooks: ApiHooks = {}) {
  const configs = loadConfigs(
    {
      setup: setupConfigSchema,
      broker: brokerConfigSchema,
      api: apiConfigSchema,
      jobs: jobsConfigSchema,
    },
    env,
  );
  await runSetup(configs.setup, logger);
  const broker = await startBroker(configs.broker, logger);
  const api = await startApi(configs.api, logger, hooks).catch(async (err: unknown) => {
    await broker.close();
    throw err;
  });
  const jobs = startJobs(configs.jobs, logger);
  return {
    mqttPort: broker.port,
    brokerPorts: broker.ports,
    apiPort: api.port,
    api,
    broker,
    async close() {
      await api.close();
      await jobs.close();
      await broker.close();
    },
  };
}
