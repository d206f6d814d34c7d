import { execFile } from 'node:child_process';
import { access, chown, mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { postgresBinaries, resolveBinDir } from './binaries.js';
import { freePort } from './free-port.js';
import type { LocalPostgres, StartOptions } from './local-servers.js';
import { readOrCreateSecret, readSecret } from './secret-file.js';
import { runLogged, spawnServer, waitUntilReady, type RunAs } from './server-process.js';

const SUPERUSER = 'telemoat_admin';
const SYSTEM_USER = 'postgres';
const HOST = '127.0.0.1';

const execFileAsync = promisify(execFile);

/** Starts PostgreSQL on `opts.dataDir`, running initdb the first time. */
export async function startPostgres(opts: StartOptions): Promise<LocalPostgres> {
  const log = opts.log ?? (() => {});
  const binDir = await resolveBinDir(postgresBinaries, log);
  const runAs = await systemUserIfRoot();
  const dataDir = path.resolve(opts.dataDir);
  const clusterDir = path.join(dataDir, 'pgdata');
  const logFile = path.join(dataDir, 'postgres.log');
  const passwordFile = path.join(dataDir, 'superuser-password');

  await mkdir(dataDir, { recursive: true });
  if (runAs !== undefined) {
    await assertReachableBy(dataDir, runAs);
    // initdb, running as the system user, creates the cluster folder inside this one.
    await chown(dataDir, runAs.uid, runAs.gid);
  }

  let password: string;
  if (await isInitialised(clusterDir)) {
    password = await existingPassword(passwordFile, clusterDir);
  } else {
    // initdb reads the password file as the system user, so that user owns it.
    password = await readOrCreateSecret(passwordFile, runAs);
    log(`Initialising a PostgreSQL cluster in ${clusterDir}`);
    await runLogged({
      command: path.join(binDir, 'initdb'),
      args: initdbArgs(clusterDir, passwordFile),
      cwd: dataDir,
      logFile,
      runAs,
    });
  }

  const port = await freePort(opts.port);
  if (opts.port !== undefined && port !== opts.port) {
    log(`Port ${opts.port} is taken; PostgreSQL uses ${port}`);
  }
  const server = await spawnServer({
    command: path.join(binDir, 'postgres'),
    args: serverArgs(clusterDir, port),
    cwd: dataDir,
    logFile,
    runAs,
    // SIGINT is Postgres's "fast" shutdown: abort open sessions, then a clean checkpoint.
    stopSignal: 'SIGINT',
  });
  await waitUntilReady(server, 'PostgreSQL', () => acceptsConnections(binDir, port));
  log(`PostgreSQL is ready on ${HOST}:${port} (data in ${clusterDir})`);

  return {
    url: `postgres://${SUPERUSER}:${encodeURIComponent(password)}@${HOST}:${port}/postgres`,
    port,
    stop: () => server.stop(),
  };
}

function initdbArgs(clusterDir: string, passwordFile: string): string[] {
  return [
    `--pgdata=${clusterDir}`,
    `--username=${SUPERUSER}`,
    `--pwfile=${passwordFile}`,
    '--auth=scram-sha-256',
    '--encoding=UTF8',
    '--locale=C',
  ];
}

function serverArgs(clusterDir: string, port: number): string[] {
  return [
    '-D',
    clusterDir,
    '-c',
    `listen_addresses=${HOST}`,
    '-c',
    `port=${port}`,
    // No Unix socket: TCP on loopback is all we use, and socket paths have a tight length limit.
    '-c',
    'unix_socket_directories=',
  ];
}

/** Postgres refuses to run as root, so as root the server runs as Debian's `postgres` user. */
async function systemUserIfRoot(): Promise<RunAs | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const [uid, gid] = await Promise.all([idOf('-u'), idOf('-g')]);
    return { uid, gid };
  } catch {
    throw new Error(
      `PostgreSQL refuses to run as root and there is no '${SYSTEM_USER}' system user. ` +
        `Create one (sudo useradd --system ${SYSTEM_USER}) or run as a regular user.`,
    );
  }
}

/**
 * Fails early with a clear message instead of initdb's bare "Permission denied" (mkdtemp, for
 * one, makes 0700 folders). Mode bits tell the whole story: a process spawned with a uid/gid
 * keeps only that primary group.
 */
async function assertReachableBy(dir: string, user: RunAs): Promise<void> {
  for (let current = path.dirname(dir); ; current = path.dirname(current)) {
    const { mode, uid, gid } = await stat(current);
    const searchable =
      (mode & 0o001) !== 0 ||
      (uid === user.uid && (mode & 0o100) !== 0) ||
      (gid === user.gid && (mode & 0o010) !== 0);
    if (!searchable) {
      throw new Error(
        `PostgreSQL runs as the '${SYSTEM_USER}' user, which cannot enter ${current}. ` +
          `Make it traversable (chmod o+x ${current}) or use a data folder elsewhere.`,
      );
    }
    if (current === path.dirname(current)) return;
  }
}

async function idOf(flag: '-u' | '-g'): Promise<number> {
  const { stdout } = await execFileAsync('id', [flag, SYSTEM_USER]);
  return Number(stdout.trim());
}

async function isInitialised(clusterDir: string): Promise<boolean> {
  try {
    await access(path.join(clusterDir, 'PG_VERSION'));
    return true;
  } catch {
    return false;
  }
}

async function existingPassword(passwordFile: string, clusterDir: string): Promise<string> {
  const password = await readSecret(passwordFile);
  if (password === undefined) {
    throw new Error(
      `The PostgreSQL cluster in ${clusterDir} exists but its superuser password file ` +
        `${passwordFile} is missing. Delete ${clusterDir} to start with a fresh cluster.`,
    );
  }
  return password;
}

async function acceptsConnections(binDir: string, port: number): Promise<boolean> {
  try {
    await execFileAsync(path.join(binDir, 'pg_isready'), [
      '-h',
      HOST,
      '-p',
      String(port),
      '-t',
      '1',
    ]);
    return true;
  } catch {
    return false;
  }
}
