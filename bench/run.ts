/**
 * `npm run bench [-- --quick] [-- --only=ingest,queries] [-- --profile]`: every benchmark of docs/performance.md,
 * each measured against its baselines in the same run on the same machine. Sets up its own
 * servers in a temporary folder, prints a table per benchmark and writes one JSON file and an
 * SVG chart per benchmark to bench/results/. It measures; it asserts nothing.
 */
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createContext, type Benchmark } from './context.js';
import { connectionsBenchmark } from './connections.bench.js';
import { ingestBenchmark } from './ingest.bench.js';
import { queriesBenchmark } from './queries.bench.js';
import { startupBenchmark } from './startup.bench.js';
import { benchDir, log } from './kit.js';

/** In this order: later ones read earlier results (the query benchmark's half load). */
const benchmarks: Benchmark[] = [
  ingestBenchmark,
  queriesBenchmark,
  connectionsBenchmark,
  // Last: it runs the test suite, which starts servers of its own.
  startupBenchmark,
];

const quick = process.argv.includes('--quick');
/** `--profile`: the broker and API write V8 CPU profiles (open them in Chrome DevTools, or
 * summarise with `npx tsx bench/profile-summary.ts <file>`). */
const profileDir = process.argv.includes('--profile')
  ? path.join(benchDir, 'results', 'profiles')
  : undefined;
const only = process.argv
  .find((arg) => arg.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');

async function main() {
  const startedAt = new Date();
  const selected = benchmarks.filter((b) => !only || only.includes(b.name));
  if (selected.length === 0) throw new Error(`no benchmark named ${only?.join(', ')}`);
  const root = await mkdtemp(path.join(tmpdir(), 'telemoat-bench-'));
  // PostgreSQL runs as its own user and must reach its data folder inside.
  await chmod(root, 0o755);
  const stops: (() => Promise<void>)[] = [];
  const report: Record<string, unknown> = {};
  const charts: Record<string, string> = {};
  try {
    log(`mode ${quick ? 'quick' : 'full'}: ${selected.map((b) => b.name).join(', ')}`);
    const context = await createContext(
      { quick, root, ...(profileDir ? { profileDir } : {}) },
      (stop) => void stops.unshift(stop),
    );
    for (const benchmark of selected) {
      const started = performance.now();
      const result = await benchmark.run(context);
      const seconds = (performance.now() - started) / 1000;
      context.results[benchmark.name] = result.json;
      report[benchmark.name] = { seconds, ...(result.json as object) };
      Object.assign(charts, result.charts);
      console.log(`\n## ${benchmark.name} (${seconds.toFixed(0)} s)\n`);
      for (const line of result.lines) console.log(line);
    }
  } finally {
    for (const stop of stops) await stop().catch((err: unknown) => log(`stop: ${String(err)}`));
    await rm(root, { recursive: true, force: true });
  }
  const dir = path.join(benchDir, 'results');
  await mkdir(dir, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const files = [path.join(dir, `${stamp}.json`)];
  await writeFile(
    files[0]!,
    JSON.stringify(
      {
        startedAt: startedAt.toISOString(),
        mode: quick ? 'quick' : 'full',
        wallSeconds: (Date.now() - startedAt.getTime()) / 1000,
        machine: machine(),
        ...report,
      },
      null,
      2,
    ) + '\n',
  );
  for (const [name, svg] of Object.entries(charts)) {
    const file = path.join(dir, `${stamp}-${name}.svg`);
    await writeFile(file, svg);
    files.push(file);
  }
  log(`wrote ${files.map((f) => path.relative(process.cwd(), f)).join(', ')}`);
}

function machine() {
  const cpu = cpus();
  let openFiles: string | null = null;
  try {
    openFiles = execFileSync('sh', ['-c', 'ulimit -n']).toString().trim();
  } catch {
    // The figure is informative only.
  }
  return {
    nproc: cpu.length,
    cpuModel: cpu[0]?.model ?? null,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    ulimitOpenFiles: openFiles,
  };
}

await main();
