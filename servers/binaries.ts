import { spawn } from 'node:child_process';
import { accessSync, constants, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

/** The parts of the host the lookup observes; injected so the decisions are testable offline. */
export interface HostView {
  listDir(dir: string): string[];
  isExecutable(file: string): boolean;
  pathEnv: string;
  uid: number | undefined;
}

export interface BinarySpec {
  /** Start of the error message, e.g. 'PostgreSQL server binaries not found'. */
  notFound: string;
  /** Tells a human how to get going, e.g. 'Install them with: sudo apt-get install …'. */
  advice: string;
  aptPackage: string;
  /** Executables that must all be present in one directory. */
  executables: readonly string[];
  /** Directories to try before PATH, best first. */
  preferredDirs(host: HostView): string[];
}

export type MissingBinaryDecision =
  { action: 'apt-install'; aptPackage: string } | { action: 'fail'; message: string };

export const APT_GET = '/usr/bin/apt-get';
const DEBIAN_POSTGRES_ROOT = '/usr/lib/postgresql';

export const postgresBinaries: BinarySpec = {
  notFound: 'PostgreSQL server binaries not found',
  advice:
    'Install them with: sudo apt-get install postgresql (or set DATABASE_URL to an existing server)',
  aptPackage: 'postgresql',
  executables: ['postgres', 'initdb', 'pg_isready'],
  // Debian keeps the server out of PATH, one folder per major version.
  preferredDirs: debianPostgresBinDirs,
};

export const influxBinaries: BinarySpec = {
  notFound: 'InfluxDB 1.x server binary (influxd) not found',
  advice:
    'Install it with: sudo apt-get install influxdb (or set INFLUX_URL to an existing InfluxDB 1.x server)',
  aptPackage: 'influxdb',
  executables: ['influxd'],
  preferredDirs: () => [],
};

/** Debian's MQTT clients: the interoperability tests publish with a client we did not write. */
export const mosquittoClients: BinarySpec = {
  notFound: 'mosquitto_pub not found',
  advice: 'Install it with: sudo apt-get install mosquitto-clients',
  aptPackage: 'mosquitto-clients',
  executables: ['mosquitto_pub', 'mosquitto_sub'],
  preferredDirs: () => [],
};

/** Debian's Chromium: the dashboard's browser tests drive it through playwright-core. */
export const chromiumBrowser: BinarySpec = {
  notFound: 'Chromium (chromium) not found',
  advice: 'Install it with: sudo apt-get install chromium',
  aptPackage: 'chromium',
  executables: ['chromium'],
  preferredDirs: () => ['/usr/bin'],
};

/** `/usr/lib/postgresql/<version>/bin` folders, highest version first. */
export function debianPostgresBinDirs(host: HostView): string[] {
  return host
    .listDir(DEBIAN_POSTGRES_ROOT)
    .filter((name) => /^\d+(\.\d+)*$/.test(name))
    .sort(compareVersionsDescending)
    .map((version) => path.join(DEBIAN_POSTGRES_ROOT, version, 'bin'));
}

function compareVersionsDescending(a: string, b: string): number {
  const left = a.split('.').map(Number);
  const right = b.split('.').map(Number);
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const difference = (right[i] ?? 0) - (left[i] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}

/** The first directory holding all of the spec's executables, or undefined. */
export function locateBinDir(spec: BinarySpec, host: HostView): string | undefined {
  const pathDirs = host.pathEnv.split(path.delimiter).filter((dir) => dir !== '');
  return [...spec.preferredDirs(host), ...pathDirs].find((dir) =>
    spec.executables.every((name) => host.isExecutable(path.join(dir, name))),
  );
}

/** Installing is only attempted once, as root, on hosts with apt-get; otherwise explain. */
export function decideWhenMissing(
  spec: BinarySpec,
  host: HostView,
  installAttempted: boolean,
): MissingBinaryDecision {
  const canInstall = host.uid === 0 && host.isExecutable(APT_GET);
  if (canInstall && !installAttempted)
    return { action: 'apt-install', aptPackage: spec.aptPackage };
  const why = installAttempted
    ? `${spec.notFound} even after 'apt-get install -y ${spec.aptPackage}'`
    : spec.notFound;
  return { action: 'fail', message: `${why}. ${spec.advice}` };
}

/** Finds the folder with the spec's executables, installing the Debian package if allowed. */
export async function resolveBinDir(
  spec: BinarySpec,
  log: (line: string) => void,
  host: HostView = realHost(),
): Promise<string> {
  for (let installAttempted = false; ; installAttempted = true) {
    const dir = locateBinDir(spec, host);
    if (dir !== undefined) return dir;
    const decision = decideWhenMissing(spec, host, installAttempted);
    if (decision.action === 'fail') throw new Error(decision.message);
    await aptInstall(decision.aptPackage, log);
  }
}

export function realHost(): HostView {
  return {
    listDir: (dir) => {
      try {
        return readdirSync(dir);
      } catch {
        return [];
      }
    },
    isExecutable: (file) => {
      try {
        accessSync(file, constants.X_OK);
        return statSync(file).isFile();
      } catch {
        return false;
      }
    },
    pathEnv: process.env.PATH ?? '',
    uid: process.getuid?.(),
  };
}

// Postgres and InfluxDB may be started concurrently; two apt-get runs would fight over dpkg's lock.
let aptQueue: Promise<void> = Promise.resolve();

function aptInstall(aptPackage: string, log: (line: string) => void): Promise<void> {
  const install = async (): Promise<void> => {
    log(`${aptPackage} is not installed; installing it with apt-get`);
    try {
      await runApt(['update'], log);
      await runApt(['install', '-y', aptPackage], log);
    } catch (error) {
      // The caller looks for the binaries again and reports what to install by hand.
      log(`apt-get failed: ${(error as Error).message}`);
    }
  };
  aptQueue = aptQueue.then(install);
  return aptQueue;
}

function runApt(args: string[], log: (line: string) => void): Promise<void> {
  log(`$ apt-get ${args.join(' ')}`);
  const child = spawn(APT_GET, args, {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout, child.stderr]) {
    readline.createInterface({ input: stream }).on('line', log);
  }
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`apt-get ${args.join(' ')} exited with ${code ?? signal}`));
    });
  });
}
