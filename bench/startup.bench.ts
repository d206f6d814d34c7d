/**
 * Benchmark 4, start-up and tests: the README's `npm start` until the dashboard is ready, first
 * on an empty data folder and then again on the same folder after a Ctrl+C, and the wall time
 * of the README's `npm test` (only the unit tier in quick mode, which cannot spend minutes).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import type { Benchmark, BenchContext } from './context.js';
import { fmt, freePort, log, renderBarChart, repoDir, sleep, sum, textTable } from './kit.js';

/** The issue's goals: a ready dashboard within 15 s, the test suite within 5 minutes. */
const START_GOAL_SECONDS = 15;
const TESTS_GOAL_SECONDS = 300;
/** A first start on a busy 2-core machine runs initdb and the migrations; give it room. */
const READY_TIMEOUT_MS = 180_000;
/** The platform drains its spool and PostgreSQL checkpoints; then Ctrl+C has had its chance. */
const STOP_GRACE_MS = 30_000;
/** A user stops a platform that has run a while: the fleet has published, the spool has work. */
const RUN_BEFORE_STOP_MS = 5_000;
const TESTS_TIMEOUT_MS = 20 * 60_000;
const LOG_TAIL_LINES = 30;

/** A command running in a process group of its own, as a terminal would run it. */
interface GroupRun {
  child: ChildProcess;
  startedAt: number;
  logFile: string;
  /** performance.now() of the first output line matching each marker. */
  marks: Map<string, number>;
  /** performance.now() when the command itself exited; its children may live on. */
  exitedAt(): number | undefined;
  exit: Promise<string>;
}

function runInGroup(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  logFile: string,
  markers: Record<string, RegExp> = {},
): GroupRun {
  const out = createWriteStream(logFile);
  const startedAt = performance.now();
  const child = spawn(command, args, {
    cwd: repoDir,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const marks = new Map<string, number>();
  let exitedAt: number | undefined;
  child.once('exit', () => (exitedAt = performance.now()));
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream.on('data', (chunk: Buffer) => {
      out.write(chunk);
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop()!;
      for (const line of lines.map(stripVTControlCharacters)) {
        for (const [name, pattern] of Object.entries(markers)) {
          if (!marks.has(name) && pattern.test(line)) marks.set(name, performance.now());
        }
      }
    });
  }
  // 'close' waits for every holder of the pipes (start-local outlives npm on Ctrl+C), so the
  // log is complete once the run has ended.
  const exit = new Promise<string>((resolve) => {
    child.once('close', (code, signal) => resolve(signal ? `killed by ${signal}` : `exit ${code}`));
  }).then(async (outcome) => {
    await new Promise((resolve) => out.end(resolve));
    return outcome;
  });
  return { child, startedAt, logFile, marks, exitedAt: () => exitedAt, exit };
}

async function logTail(file: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return stripVTControlCharacters(text).trimEnd().split('\n').slice(-LOG_TAIL_LINES).join('\n');
}

interface ProcessInfo {
  pid: number;
  ppid: number;
  pgid: number;
  /** Start time in clock ticks since boot: a reused pid is a different process. */
  startTicks: string;
}

async function processes(): Promise<ProcessInfo[]> {
  const found: ProcessInfo[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') continue;
      found.push({
        pid: Number(entry),
        ppid: Number(fields[1]),
        pgid: Number(fields[2]),
        startTicks: fields[19]!,
      });
    } catch {
      // The process ended while the list was read.
    }
  }
  return found;
}

/**
 * Every process of a run: its process group and all descendants. PostgreSQL's backends leave
 * the group (each calls setsid), so the tree finds them, and the group finds what was
 * re-parented when its parent died.
 */
async function membersOf(pgid: number, known: Map<number, string>): Promise<Map<number, string>> {
  const all = await processes();
  const members = new Map<number, string>();
  for (const p of all) {
    if (p.pgid === pgid || known.get(p.pid) === p.startTicks) members.set(p.pid, p.startTicks);
  }
  for (let grew = true; grew;) {
    grew = false;
    for (const p of all) {
      if (!members.has(p.pid) && members.has(p.ppid)) {
        members.set(p.pid, p.startTicks);
        grew = true;
      }
    }
  }
  return members;
}

function signalAll(pgid: number, members: Map<number, string>, signal: NodeJS.Signals): void {
  for (const pid of [-pgid, ...members.keys()]) {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

/** Waits until nothing of the run is left; false when `timeoutMs` passes first. */
async function allGone(pgid: number, members: Map<number, string>, timeoutMs: number) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const left = await membersOf(pgid, members);
    for (const pid of [...members.keys()]) if (!left.has(pid)) members.delete(pid);
    for (const [pid, ticks] of left) members.set(pid, ticks);
    if (left.size === 0) return true;
    if (Date.now() > end) return false;
    await sleep(100);
  }
}

interface StopResult {
  /** Until every process of the run had ended. */
  seconds: number;
  /** Until npm itself exited: a terminal's prompt is back, whatever still runs. */
  npmSeconds: number | null;
  /** How the npm process ended. */
  exit: string;
  /** True when Ctrl+C was not enough and the group had to be killed. */
  killed: boolean;
  /** start-local said it was shutting down and logged no failure and no warning doing so. */
  clean: boolean;
  /** What start-local warned about while shutting down: message → how often. */
  warnings: Record<string, number>;
}

const SHUTDOWN_STARTED = 'SIGINT received, shutting down';

/** Counts the WARN and worse lines of pino's pretty output after `from`. */
function warningsAfter(output: string, from: string): Record<string, number> {
  const start = output.indexOf(from);
  const counts: Record<string, number> = {};
  if (start < 0) return counts;
  const pattern = /^\[[\d:.]+\] (?:WARN|ERROR|FATAL) \([^)]*\): (.*)$/gm;
  for (const [, message] of stripVTControlCharacters(output.slice(start)).matchAll(pattern)) {
    counts[message!] = (counts[message!] ?? 0) + 1;
  }
  return counts;
}

/** Ctrl+C as a terminal sends it, to the whole group; SIGKILL when it does not end in time. */
async function stopRun(run: GroupRun): Promise<StopResult> {
  const pgid = run.child.pid!;
  const members = await membersOf(pgid, new Map());
  const started = performance.now();
  signalAll(pgid, new Map(), 'SIGINT');
  const killed = !(await allGone(pgid, members, STOP_GRACE_MS));
  if (killed) {
    log(`startup: not everything ended after SIGINT; killing ${members.size} processes`);
    signalAll(pgid, members, 'SIGKILL');
    if (!(await allGone(pgid, members, 10_000))) {
      throw new Error(`processes ${[...members.keys()].join(', ')} survived SIGKILL`);
    }
  }
  const exit = await run.exit;
  const exitedAt = run.exitedAt();
  const npmSeconds = exitedAt === undefined ? null : Math.max(0, exitedAt - started) / 1000;
  const output = await readFile(run.logFile, 'utf8');
  const warnings = warningsAfter(output, SHUTDOWN_STARTED);
  const clean =
    !killed &&
    output.includes(SHUTDOWN_STARTED) &&
    !/shutdown failed|failed to start/.test(output) &&
    Object.keys(warnings).length === 0;
  const seconds = (performance.now() - started) / 1000;
  return { seconds, npmSeconds, exit, killed, clean, warnings };
}

/** Answers 200 with the dashboard's HTML page, and `/readyz` 200 (every store answers). */
async function dashboardReady(apiUrl: string): Promise<boolean> {
  try {
    const ready = await fetch(`${apiUrl}/readyz`, { signal: AbortSignal.timeout(3_000) });
    await ready.body?.cancel();
    if (ready.status !== 200) return false;
    const page = await fetch(`${apiUrl}/`, {
      headers: { accept: 'text/html' },
      signal: AbortSignal.timeout(3_000),
    });
    const html = await page.text();
    return (
      page.status === 200 &&
      (page.headers.get('content-type') ?? '').startsWith('text/html') &&
      /<!doctype html>/i.test(html)
    );
  } catch {
    return false;
  }
}

/** Where the time goes, from start-local's output; null when a line did not appear. */
interface StartPhases {
  /** The `prestart` dashboard build, until npm announces the start script. */
  build: number | null;
  /** tsx, PostgreSQL and InfluxDB (initdb the first time), migrations and InfluxDB setup. */
  serversAndSetup: number | null;
  brokerAndApi: number | null;
  /** The demo organisation, its devices and the simulated fleet, until the banner. */
  demoSeed: number | null;
}

interface StartResult {
  /** From the command to a ready dashboard. */
  seconds: number;
  phases: StartPhases;
  /** Until `/readyz` and the dashboard page first answered 200, banner or not. */
  answeredSeconds: number | null;
  stop: StopResult;
}

/** `npm start` until the dashboard is ready, then Ctrl+C until every process has ended. */
async function timeStart(
  label: string,
  env: NodeJS.ProcessEnv,
  apiUrl: string,
  logFile: string,
): Promise<StartResult> {
  log(`startup: ${label}: npm start`);
  const run = runInGroup('npm', ['start'], env, logFile, {
    built: /^> \S+ start$/,
    setUp: /\): InfluxDB ready$/,
    api: /\): API listening$/,
    banner: /^Telemoat is running\.$/,
  });
  let exited: string | undefined;
  void run.exit.then((outcome) => (exited = outcome));
  let answeredAt: number | undefined;
  let readyAt: number | undefined;
  try {
    const deadline = run.startedAt + READY_TIMEOUT_MS;
    while (readyAt === undefined) {
      if (exited !== undefined) throw new Error(`npm start ended (${exited}) before it was ready`);
      if (performance.now() > deadline) throw new Error(`not ready within ${READY_TIMEOUT_MS} ms`);
      // The API answers before the demo is seeded; only the banner tells the user where to go.
      const announced = run.marks.has('banner');
      if (await dashboardReady(apiUrl)) {
        answeredAt ??= performance.now();
        if (announced) readyAt = performance.now();
      }
      if (readyAt === undefined) await sleep(100);
    }
  } catch (err) {
    await stopRun(run);
    throw new Error(`${label}: ${(err as Error).message}. Last lines:\n${await logTail(logFile)}`);
  }
  const between = (from: string | undefined, to: string) => {
    const start = from === undefined ? run.startedAt : run.marks.get(from);
    const end = run.marks.get(to);
    return start === undefined || end === undefined ? null : (end - start) / 1000;
  };
  const seconds = (readyAt - run.startedAt) / 1000;
  log(`startup: ${label}: ready in ${fmt(seconds, 1)} s`);
  await sleep(RUN_BEFORE_STOP_MS);
  const stop = await stopRun(run);
  const how = `npm ${stop.exit}, ${stop.clean ? 'clean shutdown' : 'NOT a clean shutdown'}`;
  for (const [message, count] of Object.entries(stop.warnings)) {
    log(`startup: ${label}: while shutting down ${count}× "${message}"`);
  }
  log(
    `startup: ${label}: npm ended ${fmt(stop.npmSeconds, 1)} s and everything ` +
      `${fmt(stop.seconds, 1)} s after Ctrl+C (${how})`,
  );
  return {
    seconds,
    phases: {
      build: between(undefined, 'built'),
      serversAndSetup: between('built', 'setUp'),
      brokerAndApi: between('setUp', 'api'),
      demoSeed: between('api', 'banner'),
    },
    answeredSeconds: answeredAt === undefined ? null : (answeredAt - run.startedAt) / 1000,
    stop,
  };
}

/** Runs a command to its end in its own group; the group is killed if it overruns. */
async function timeCommand(command: string, args: string[], logFile: string) {
  const run = runInGroup(command, args, process.env, logFile);
  let timer: NodeJS.Timeout | undefined;
  const overrun = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), TESTS_TIMEOUT_MS);
  });
  const outcome = await Promise.race([run.exit, overrun]);
  clearTimeout(timer);
  const seconds = (performance.now() - run.startedAt) / 1000;
  if (outcome !== null) return { seconds, exit: outcome };
  await stopRun(run);
  return { seconds, exit: `stopped after ${fmt(seconds)} s` };
}

/** Counts from vitest's summary, e.g. `Tests  310 passed | 2 failed (312)`. */
function vitestCounts(output: string, label: string): Record<string, number> | null {
  const line = new RegExp(`^\\s*${label}\\s+(.*)\\((\\d+)\\)\\s*$`, 'm').exec(output);
  if (!line) return null;
  const counts: Record<string, number> = { total: Number(line[2]) };
  for (const [, n, kind] of line[1]!.matchAll(/(\d+) (\w+)/g)) counts[kind!] = Number(n);
  return counts;
}

async function timeTests(quick: boolean, logFile: string) {
  const [command, args, scope] = quick
    ? ['npx', ['vitest', 'run', 'test/unit'], 'unit tier only (quick mode)']
    : ['npm', ['test'], 'whole suite'];
  const commandLine = [command, ...args].join(' ');
  log(`startup: ${commandLine} (${scope}); output in ${logFile}`);
  const { seconds, exit } = await timeCommand(command, args, logFile);
  const output = stripVTControlCharacters(await readFile(logFile, 'utf8'));
  const files = vitestCounts(output, 'Test Files');
  const tests = vitestCounts(output, 'Tests');
  const passed = exit === 'exit 0';
  const summary = (name: string, c: Record<string, number> | null) =>
    c
      ? `${name} ${c.passed ?? 0} passed, ${c.failed ?? 0} failed of ${c.total}`
      : `${name} (no summary)`;
  log(
    `startup: tests ${passed ? 'passed' : `FAILED (${exit})`} in ${fmt(seconds, 1)} s: ` +
      `${summary('files', files)}; ${summary('tests', tests)}`,
  );
  return { command: commandLine, scope, seconds, passed, exit, files, tests };
}

async function run(context: BenchContext) {
  const dir = path.join(context.root, 'startup');
  const dataDir = path.join(dir, 'data');
  await mkdir(dir, { recursive: true });

  // A warm machine: the build's files are in the page cache before anything is timed.
  const build = await timeCommand('npm', ['run', 'build'], path.join(dir, 'build.log'));
  if (build.exit !== 'exit 0') {
    throw new Error(`npm run build: ${build.exit}\n${await logTail(path.join(dir, 'build.log'))}`);
  }
  log(`startup: npm run build alone: ${fmt(build.seconds, 1)} s`);

  const [apiPort, mqttPort, wsPort, metricsPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TELEMOAT_DATA_DIR: dataDir,
    API_PORT: String(apiPort),
    MQTT_PORT: String(mqttPort),
    MQTT_WS_PORT: String(wsPort),
    METRICS_PORT: String(metricsPort),
  };
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const first = await timeStart('first start', env, apiUrl, path.join(dir, 'first-start.log'));
  const warm = await timeStart('warm restart', env, apiUrl, path.join(dir, 'warm-restart.log'));
  const tests = await timeTests(context.quick, path.join(dir, 'tests.log'));
  return { buildAloneSeconds: build.seconds, first, warm, tests };
}

function stopNote(stop: StopResult): string {
  if (stop.killed) return ' (killed)';
  const warnings = sum(Object.values(stop.warnings));
  if (warnings > 0) return ` (${warnings} warnings)`;
  return stop.clean ? '' : ' (unclean)';
}

export const startupBenchmark: Benchmark = {
  name: 'startup',
  async run(context) {
    const { buildAloneSeconds, first, warm, tests } = await run(context);
    const s = (n: number | null) => (n === null ? '–' : `${fmt(n, 1)} s`);
    const verdict = (seconds: number, goal: number) => (seconds <= goal ? 'yes' : 'NO');
    const startRow = (label: string, r: StartResult) => [
      label,
      s(r.seconds),
      s(r.phases.build),
      s(r.phases.serversAndSetup),
      s(r.phases.brokerAndApi),
      s(r.phases.demoSeed),
      s(r.answeredSeconds),
      `${START_GOAL_SECONDS} s`,
      verdict(r.seconds, START_GOAL_SECONDS),
      `${s(r.stop.npmSeconds)} / ${s(r.stop.seconds)}${stopNote(r.stop)}`,
    ];
    const runs = [
      ['first start', first],
      ['warm restart', warm],
    ] as const;
    const warningLines = runs.flatMap(([label, r]) =>
      Object.entries(r.stop.warnings).map(([message, n]) => `${label}, Ctrl+C: ${n}× ${message}`),
    );
    const testsLabel = `${tests.command}: ${tests.scope}, ${tests.passed ? 'passed' : 'FAILED'}`;
    const lines = [
      ...textTable([
        [
          'npm start → ready dashboard',
          'ready',
          'build',
          'servers',
          'platform',
          'demo',
          'API up',
          'goal',
          'met',
          'Ctrl+C: npm / all',
        ],
        startRow('first start (empty data folder)', first),
        startRow('warm restart (same data folder)', warm),
      ]),
      '',
      ...textTable([
        ['', 'seconds', 'goal', 'met'],
        ['npm run build alone', fmt(buildAloneSeconds, 1), '', ''],
        [
          testsLabel,
          fmt(tests.seconds, 1),
          `${TESTS_GOAL_SECONDS} (5 min)`,
          tests.scope === 'whole suite' ? verdict(tests.seconds, TESTS_GOAL_SECONDS) : 'n/a',
        ],
      ]),
      '',
      'ready: "Telemoat is running." printed, /readyz and the dashboard page answer 200. Its',
      'phases: build (`prestart`), servers (tsx, PostgreSQL, InfluxDB, migrations), platform',
      '(broker, API), demo (seed, fleet). API up: both answered 200, banner or not.',
      'Ctrl+C: SIGINT to the group until npm exited / every process (PostgreSQL, InfluxDB) ended.',
      ...warningLines,
    ];
    const share = (seconds: number, goal: number) => (seconds / goal) * 100;
    const chart = renderBarChart('Start-up and tests, % of goal (100 % = 15 s / 5 min)', [
      { label: 'goal', value: 100, text: '15 s / 5 min' },
      {
        label: 'first start (empty data folder)',
        value: share(first.seconds, START_GOAL_SECONDS),
        text: `${fmt(first.seconds, 1)} s`,
        ours: true,
      },
      {
        label: 'warm restart',
        value: share(warm.seconds, START_GOAL_SECONDS),
        text: `${fmt(warm.seconds, 1)} s`,
        ours: true,
      },
      {
        label: 'of which the dashboard build',
        value: share(warm.phases.build ?? NaN, START_GOAL_SECONDS),
        text: s(warm.phases.build),
        ours: true,
      },
      {
        label: tests.scope === 'whole suite' ? 'npm test' : 'unit tier only (quick mode)',
        value: share(tests.seconds, TESTS_GOAL_SECONDS),
        text: `${fmt(tests.seconds, 0)} s${tests.passed ? '' : ' (failed)'}`,
        ours: true,
      },
    ]);
    return {
      json: {
        goals: { startSeconds: START_GOAL_SECONDS, testsSeconds: TESTS_GOAL_SECONDS },
        buildAloneSeconds,
        firstStart: first,
        warmRestart: warm,
        tests,
      },
      lines,
      charts: { startup: chart },
    };
  },
};
