import { spawn, type ChildProcess } from 'node:child_process';
import { appendFile, open, stat } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';

/** Drop root privileges to this user (Postgres refuses to run as root). */
export interface RunAs {
  uid: number;
  gid: number;
}

export interface LoggedCommand {
  command: string;
  args: readonly string[];
  cwd: string;
  /** Receives the process's stdout and stderr, appended across runs. */
  logFile: string;
  runAs?: RunAs;
}

export interface ServerCommand extends LoggedCommand {
  /** The signal that asks this server for a quick, clean shutdown. */
  stopSignal: NodeJS.Signals;
}

export interface ServerProcess {
  hasExited(): boolean;
  /** Explains why the process failed, with its latest log lines. */
  failure(summary: string): Promise<Error>;
  stop(): Promise<void>;
}

const STOP_TIMEOUT_MS = 15_000;
const READY_TIMEOUT_MS = 30_000;
const READY_POLL_MS = 100;
const LOG_TAIL_LINES = 25;
const LOG_TAIL_BYTES = 16_384;

// Servers run as real OS processes; without this they would outlive a test run or a crash.
const running = new Map<ChildProcess, NodeJS.Signals>();
let exitHookInstalled = false;

/** Runs a one-shot command (e.g. initdb) to completion, throwing with its log tail on failure. */
export async function runLogged(command: LoggedCommand): Promise<void> {
  const { child, logOffset } = await spawnLogged(command);
  const outcome = await exitOf(child);
  if (outcome !== 'exit code 0') {
    throw await failureWithLog(
      `${command.command} failed (${outcome})`,
      command.logFile,
      logOffset,
    );
  }
}

/** Starts a long-running server; it is stopped automatically if this process exits first. */
export async function spawnServer(command: ServerCommand): Promise<ServerProcess> {
  const { child, logOffset } = await spawnLogged(command);
  let outcome: string | undefined;
  const exited = exitOf(child).then((description) => {
    outcome = description;
    running.delete(child);
  });
  stopOnProcessExit(child, command.stopSignal);

  const failure = async (summary: string): Promise<Error> => {
    const detail = outcome === undefined ? summary : `${summary} (${outcome})`;
    return failureWithLog(detail, command.logFile, logOffset);
  };

  const stop = async (): Promise<void> => {
    if (outcome !== undefined) return;
    child.kill(command.stopSignal);
    if (!(await settlesWithin(exited, STOP_TIMEOUT_MS))) {
      child.kill('SIGKILL');
      await exited;
    }
  };

  return { hasExited: () => outcome !== undefined, failure, stop };
}

/**
 * Polls `isReady` until it reports true. Fails fast if the server exits, and stops it when the
 * timeout passes so a half-started server is not left behind.
 */
export async function waitUntilReady(
  server: ServerProcess,
  name: string,
  isReady: () => Promise<boolean>,
  timeoutMs = READY_TIMEOUT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.hasExited()) throw await server.failure(`${name} exited before it was ready`);
    if (await isReady()) return;
    await delay(READY_POLL_MS);
  }
  await server.stop();
  throw await server.failure(`${name} was not ready within ${timeoutMs / 1000}s`);
}

async function spawnLogged(
  command: LoggedCommand,
): Promise<{ child: ChildProcess; logOffset: number }> {
  const commandLine = [command.command, ...command.args].join(' ');
  await appendFile(command.logFile, `\n--- ${new Date().toISOString()} ${commandLine}\n`);
  const logOffset = (await stat(command.logFile)).size;
  // The child gets its own copy of the descriptor, so output lands in the file, never the console.
  const log = await open(command.logFile, 'a');
  try {
    const child = spawn(command.command, command.args, {
      cwd: command.cwd,
      stdio: ['ignore', log.fd, log.fd],
      // A process group of its own: Ctrl+C in the terminal reaches only the platform, which
      // stops its components first and its servers after (stopOnProcessExit covers every exit).
      detached: true,
      ...command.runAs,
    });
    return { child, logOffset };
  } finally {
    await log.close();
  }
}

/** Resolves with a short description of how the process ended; never rejects. */
function exitOf(child: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    // 'error' also fires when a signal cannot be delivered; only a failed spawn (no pid) is an end.
    child.on('error', (error) => {
      if (child.pid === undefined) resolve(`could not start: ${error.message}`);
    });
    child.once('exit', (code, signal) => {
      resolve(signal === null ? `exit code ${code}` : `killed by ${signal}`);
    });
  });
}

async function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function failureWithLog(summary: string, logFile: string, fromOffset: number) {
  const tail = await readLogTail(logFile, fromOffset);
  const details = tail === '' ? '(no output)' : tail;
  return new Error(`${summary}. Last lines of ${logFile}:\n${details}`);
}

async function readLogTail(logFile: string, fromOffset: number): Promise<string> {
  const file = await open(logFile, 'r');
  try {
    const { size } = await file.stat();
    const start = Math.max(fromOffset, size - LOG_TAIL_BYTES);
    const buffer = Buffer.alloc(Math.max(0, size - start));
    await file.read(buffer, 0, buffer.length, start);
    return buffer.toString('utf8').trimEnd().split('\n').slice(-LOG_TAIL_LINES).join('\n');
  } finally {
    await file.close();
  }
}

function stopOnProcessExit(child: ChildProcess, stopSignal: NodeJS.Signals): void {
  running.set(child, stopSignal);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: send the clean-shutdown signal and let the servers finish.
  process.once('exit', () => {
    for (const [child, signal] of running) child.kill(signal);
  });
}
