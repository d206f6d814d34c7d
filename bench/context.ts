/**
 * What every benchmark shares: a throw-away PostgreSQL and InfluxDB, the platform started as in
 * a deployment (setup, then broker and API each in its own process, so each one's CPU and
 * memory can be read from /proc), one organisation, and devices provisioned on demand.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { apiConfigSchema } from '../api/api.config.js';
import { generateSecrets, platformEnv } from '../bin/platform-env.js';
import type { Env } from '../bin/platform.js';
import { loadConfig } from '../common/config.js';
import { directoryCryptoFrom } from '../directory/crypto/crypto.config.js';
import { DevicesRepository } from '../directory/devices/devices.repository.js';
import { OrganisationsRepository } from '../directory/organisations/organisations.repository.js';
import { InfluxClient } from '../influx/influx.client.js';
import { startInflux, startPostgres } from '../servers/local-servers.js';
import { freePort, log, repoDir, stopChild, waitForPort } from './kit.js';
import type { BenchDevice } from './load-generator.js';

export const INFLUX_DATABASE = 'telemoat_bench';

export interface BenchContext {
  quick: boolean;
  /** A temporary folder, removed after the run. */
  root: string;
  influx: { url: string; adminUser: string; adminPassword: string };
  /** InfluxDB as its admin, for counting what was stored; never used by the platform. */
  influxAdmin: InfluxClient;
  /** The environment the platform's components were started with. */
  env: Env;
  broker: { process: ChildProcess; mqttUrl: string; port: number };
  api: { process: ChildProcess; url: string };
  org: { id: string; tenantKey: string };
  /** The first `count` devices of the organisation, provisioned when first asked for. */
  devices(count: number): Promise<BenchDevice[]>;
  /** JSON of the benchmarks that already ran, by name. */
  results: Record<string, unknown>;
  /** Runs at the end of the whole run, newest first. */
  onStop(stop: () => Promise<void>): void;
}

/** Starts one component of bin/main.ts with the platform's environment. */
/** Starts one component of bin/main.ts with the platform's environment; with `profileDir`,
 * V8 writes a CPU profile there when the component exits. */
export function startComponent(
  name: 'setup' | 'broker' | 'api',
  env: Env,
  profileDir?: string,
): ChildProcess {
  const profile = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  return spawn(
    process.execPath,
    [...profile, '--import', 'tsx', path.join(repoDir, 'bin/main.ts'), name],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit'] },
  );
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', resolve));
}

/** `onStop` collects what the runner must undo, also when this fails half-way. */
export async function createContext(
  options: { quick: boolean; root: string; profileDir?: string },
  onStop: (stop: () => Promise<void>) => void,
): Promise<BenchContext> {
  const { quick, root } = options;
  const [postgres, influx] = await Promise.all([
    startPostgres({ dataDir: path.join(root, 'postgres'), log }),
    startInflux({ dataDir: path.join(root, 'influx'), log }),
  ]);
  onStop(() => postgres.stop());
  onStop(() => influx.stop());
  const influxAdmin = new InfluxClient(
    { url: influx.url, username: influx.adminUser, password: influx.adminPassword },
    60_000,
  );
  const spoolDir = path.join(root, 'spool');
  await mkdir(spoolDir);
  const [mqttPort, apiPort, wsPort, metricsPort] = await Promise.all(
    Array.from({ length: 4 }, freePort),
  );
  const env: Env = {
    ...platformEnv(
      {
        postgresAdminUrl: postgres.url,
        influxUrl: influx.url,
        influxAdminUser: influx.adminUser,
        influxAdminPassword: influx.adminPassword,
      },
      generateSecrets(),
      {
        database: 'telemoat_bench',
        influxDatabase: INFLUX_DATABASE,
        spoolDir,
        mqttPort: mqttPort!,
        apiPort: apiPort!,
        wsPort: wsPort!,
        metricsPort: metricsPort!,
      },
    ),
    LOG_LEVEL: 'error',
    // The benchmarks measure the work, not the abuse limits in front of it.
    RATE_LIMIT_PER_IP_PER_MINUTE: String(1_000_000),
    RATE_LIMIT_PER_USER_PER_MINUTE: String(1_000_000),
  };

  const setup = startComponent('setup', env);
  const setupCode = await exited(setup);
  if (setupCode !== 0) throw new Error(`setup exited with ${setupCode}`);
  const broker = startComponent('broker', env, options.profileDir);
  onStop(() => stopChild(broker, 30_000));
  const api = startComponent('api', env, options.profileDir);
  onStop(() => stopChild(api));
  await Promise.all([waitForPort(mqttPort!), waitForPort(apiPort!)]);

  const pool = new pg.Pool({ connectionString: env.API_DATABASE_URL, max: 4 });
  onStop(() => pool.end());
  const crypto = directoryCryptoFrom(loadConfig('api', apiConfigSchema, env));
  const org = await new OrganisationsRepository(pool, crypto).create('Bench');
  const repository = new DevicesRepository(pool);
  const provisioned: BenchDevice[] = [];
  const devices = async (count: number) => {
    if (provisioned.length < count) log(`provisioning ${count - provisioned.length} devices`);
    let next = provisioned.length;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < count) {
          const index = next++;
          const { device, secret } = await repository.provision(org.id, `bench-${index}`);
          provisioned[index] = { id: device.id, secret };
        }
      }),
    );
    return provisioned.slice(0, count);
  };

  return {
    quick,
    root,
    influx,
    influxAdmin,
    env,
    broker: { process: broker, mqttUrl: `mqtt://127.0.0.1:${mqttPort}`, port: mqttPort! },
    api: { process: api, url: `http://127.0.0.1:${apiPort}` },
    org: { id: org.id, tenantKey: org.tenantKey },
    devices,
    results: {},
    onStop,
  };
}

/** What a benchmark hands the runner: its figures, the lines it prints, its SVG charts. */
export interface BenchReport {
  json: unknown;
  lines: string[];
  /** File name suffix → SVG document; written as `<stamp>-<suffix>.svg`. */
  charts: Record<string, string>;
}

export interface Benchmark {
  name: string;
  run(context: BenchContext): Promise<BenchReport>;
}
