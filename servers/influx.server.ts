import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { influxBinaries, resolveBinDir } from './binaries.js';
import { freePort } from './free-port.js';
import type { LocalInflux, StartOptions } from './local-servers.js';
import { readOrCreateSecret } from './secret-file.js';
import { spawnServer, waitUntilReady } from './server-process.js';

const ADMIN_USER = 'admin';
const HOST = '127.0.0.1';
const REQUEST_TIMEOUT_MS = 5_000;

interface InfluxLayout {
  dataDir: string;
  httpPort: number;
  rpcPort: number;
}

/** Starts InfluxDB 1.x on `opts.dataDir` with authentication on, creating the admin once. */
export async function startInflux(opts: StartOptions): Promise<LocalInflux> {
  const log = opts.log ?? (() => {});
  const binDir = await resolveBinDir(influxBinaries, log);
  const dataDir = path.resolve(opts.dataDir);
  await mkdir(dataDir, { recursive: true });
  const adminPassword = await readOrCreateSecret(path.join(dataDir, 'admin-password'));

  const httpPort = await freePort(opts.port);
  if (opts.port !== undefined && httpPort !== opts.port) {
    log(`Port ${opts.port} is taken; InfluxDB uses ${httpPort}`);
  }
  const rpcPort = await otherFreePort(httpPort);
  // Ports can change between runs, so the config is rewritten on every start.
  const configFile = path.join(dataDir, 'influxdb.conf');
  await writeFile(configFile, influxConfig({ dataDir, httpPort, rpcPort }));

  const server = await spawnServer({
    command: path.join(binDir, 'influxd'),
    args: ['run', '-config', configFile],
    cwd: dataDir,
    logFile: path.join(dataDir, 'influxd.log'),
    stopSignal: 'SIGTERM',
  });
  const url = `http://${HOST}:${httpPort}`;
  await waitUntilReady(server, 'InfluxDB', () => answersPing(url));
  try {
    await ensureAdmin(url, adminPassword, dataDir);
  } catch (error) {
    await server.stop();
    throw error;
  }
  log(`InfluxDB is ready on ${url} (data in ${dataDir})`);

  return { url, port: httpPort, adminUser: ADMIN_USER, adminPassword, stop: () => server.stop() };
}

/** The RPC (backup/restore) listener must not clash with the HTTP port nor default to 8088. */
async function otherFreePort(taken: number): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port !== taken) return port;
  }
}

function influxConfig({ dataDir, httpPort, rpcPort }: InfluxLayout): string {
  // JSON string literals are valid TOML basic strings, which keeps odd paths safe.
  const quote = (value: string) => JSON.stringify(value);
  const disabled = (section: string) => `${section}\n  enabled = false\n`;
  return [
    'reporting-disabled = true',
    `bind-address = ${quote(`${HOST}:${rpcPort}`)}\n`,
    `[meta]\n  dir = ${quote(path.join(dataDir, 'meta'))}\n`,
    '[data]',
    `  dir = ${quote(path.join(dataDir, 'data'))}`,
    `  wal-dir = ${quote(path.join(dataDir, 'wal'))}`,
    '  query-log-enabled = false\n',
    '[monitor]\n  store-enabled = false\n',
    '[http]',
    '  enabled = true',
    `  bind-address = ${quote(`${HOST}:${httpPort}`)}`,
    '  auth-enabled = true',
    '  log-enabled = false\n',
    disabled('[subscriber]'),
    disabled('[[graphite]]'),
    disabled('[[collectd]]'),
    disabled('[[opentsdb]]'),
    disabled('[[udp]]'),
  ].join('\n');
}

async function answersPing(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1_000) });
    await response.body?.cancel();
    return response.status === 204;
  } catch {
    return false;
  }
}

/**
 * With authentication on and no users yet, InfluxDB accepts exactly one unauthenticated
 * statement: creating an admin. A data folder from an earlier run already has one.
 */
async function ensureAdmin(url: string, password: string, dataDir: string): Promise<void> {
  const credentials = { user: ADMIN_USER, password };
  if (await succeeds(url, 'SHOW USERS', credentials)) return;
  await succeeds(
    url,
    `CREATE USER "${ADMIN_USER}" WITH PASSWORD '${password}' WITH ALL PRIVILEGES`,
  );
  if (await succeeds(url, 'SHOW USERS', credentials)) return;
  throw new Error(
    `InfluxDB in ${dataDir} rejects the admin password stored in ${path.join(dataDir, 'admin-password')}. ` +
      `Delete ${dataDir} to start with fresh data.`,
  );
}

/** True when InfluxDB answers 200 and reports no error for any statement. */
async function succeeds(
  url: string,
  statement: string,
  credentials?: { user: string; password: string },
): Promise<boolean> {
  const headers: Record<string, string> = {};
  if (credentials !== undefined) {
    const token = Buffer.from(`${credentials.user}:${credentials.password}`).toString('base64');
    headers.authorization = `Basic ${token}`;
  }
  const response = await fetch(`${url}/query`, {
    method: 'POST',
    headers,
    body: new URLSearchParams({ q: statement }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await response.text();
  if (!response.ok) return false;
  const body = JSON.parse(text) as { error?: string; results?: { error?: string }[] };
  return body.error === undefined && (body.results ?? []).every((r) => r.error === undefined);
}
