import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import {
  generateSecrets,
  type PlatformSecrets,
  type ServerEndpoints,
} from '../../bin/platform-env.js';
import { chromiumBrowser, mosquittoClients, resolveBinDir } from '../../servers/binaries.js';
import { startInflux, startPostgres } from '../../servers/local-servers.js';

declare module 'vitest' {
  export interface ProvidedContext {
    servers: ServerEndpoints;
    /** Shared by all files: Postgres roles are server-wide, so their passwords must agree. */
    secrets: PlatformSecrets;
    mosquittoBin: string;
    /** Debian's Chromium, for the dashboard's browser tests (test/support/browser.ts). */
    chromiumPath: string;
  }
}

/**
 * One real PostgreSQL and one real InfluxDB for the whole run, in a throw-away folder; each
 * test file then works in databases of its own. TEST_DATABASE_URL / TEST_INFLUX_URL (with
 * TEST_INFLUX_ADMIN_USER and TEST_INFLUX_ADMIN_PASSWORD) point the suite at existing servers.
 */
export default async function setup(project: TestProject) {
  const log = (line: string) => process.stderr.write(`[servers] ${line}\n`);
  const root = await mkdtemp(path.join(tmpdir(), 'telemoat-test-'));
  // mkdtemp makes 0700 folders; the postgres user must be able to enter it.
  await chmod(root, 0o755);
  const stops: (() => Promise<void>)[] = [];

  const env = process.env;
  const [postgresUrl, influx, mosquittoBin, chromiumDir] = await Promise.all([
    env.TEST_DATABASE_URL ??
      startPostgres({ dataDir: path.join(root, 'postgres'), log }).then((pg) => {
        stops.push(() => pg.stop());
        return pg.url;
      }),
    env.TEST_INFLUX_URL
      ? {
          influxUrl: env.TEST_INFLUX_URL,
          influxAdminUser: env.TEST_INFLUX_ADMIN_USER ?? 'admin',
          influxAdminPassword: env.TEST_INFLUX_ADMIN_PASSWORD ?? '',
        }
      : startInflux({ dataDir: path.join(root, 'influx'), log }).then((server) => {
          stops.push(() => server.stop());
          return {
            influxUrl: server.url,
            influxAdminUser: server.adminUser,
            influxAdminPassword: server.adminPassword,
          };
        }),
    resolveBinDir(mosquittoClients, log),
    resolveBinDir(chromiumBrowser, log),
  ]);

  project.provide('servers', { postgresAdminUrl: postgresUrl, ...influx });
  project.provide('mosquittoBin', mosquittoBin);
  project.provide('chromiumPath', path.join(chromiumDir, 'chromium'));
  project.provide('secrets', generateSecrets());

  return async () => {
    await Promise.all(stops.map((stop) => stop()));
    await rm(root, { recursive: true, force: true });
  };
}
