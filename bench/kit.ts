/**
 * Small tools every benchmark uses: processes, ports, /proc readings, percentiles, tables and
 * a hand-built SVG bar chart. Nothing here measures anything by itself.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import type { InfluxClient } from '../influx/influx.client.js';
import { freePort as bindablePort } from '../servers/free-port.js';
import { fileURLToPath } from 'node:url';

export const benchDir = path.dirname(fileURLToPath(import.meta.url));
export const repoDir = path.dirname(benchDir);

export const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
export const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Forks a TypeScript file of bench/ with an IPC channel. */
export function forkTs(file: string, env?: NodeJS.ProcessEnv): ChildProcess {
  return fork(path.join(benchDir, file), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    ...(env ? { env } : {}),
  });
}

/** The next IPC message of `type` (any when absent); a `{ type: 'error' }` or an exit rejects. */
export function nextMessage<T>(child: ChildProcess, type?: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: { type?: string; message?: string }) => {
      if (message.type === 'error') {
        cleanup();
        reject(new Error(`worker: ${message.message}`));
      } else if (!type || message.type === type) {
        cleanup();
        resolve(message as T);
      }
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`child exited with ${code}`));
    };
    const cleanup = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/** Ends a child: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(graceMs)]);
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await exited;
  }
}

const handedOut = new Set<number>();

/**
 * A free port below the kernel's ephemeral range, never the same twice in a run. A port from
 * that range can be taken by any outgoing connection, such as the load generators' thousands
 * of clients, in the seconds between choosing it and a server binding it.
 */
export async function freePort(): Promise<number> {
  const range = await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8');
  const ephemeralLow = Number(range.trim().split(/\s+/)[0]);
  for (;;) {
    const candidate = 10_000 + Math.floor(Math.random() * (ephemeralLow - 10_000));
    if (!handedOut.has(candidate) && (await bindablePort(candidate)) === candidate) {
      handedOut.add(candidate);
      return candidate;
    }
  }
}

export async function waitForPort(port: number, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`nothing listens on ${port}`);
    await sleep(100);
  }
}

const clockTicks = () => Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** User + system CPU seconds of a process, from /proc. */
export async function processCpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks();
}

/** Resident set size of a process in bytes, from /proc. */
export async function processRssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
  if (!kb) throw new Error(`no VmRSS for ${pid}`);
  return Number(kb) * 1024;
}

/** A Debian binary, installed with apt-get when missing and root; null when it cannot be had. */
export function debianBinary(candidates: string[], aptPackage: string): string | null {
  const find = () => candidates.find((file) => commandOk('test', ['-x', file])) ?? null;
  const found = find();
  if (found) return found;
  if (process.getuid?.() !== 0) {
    log(`${aptPackage} is missing: install Debian’s \`${aptPackage}\` package`);
    return null;
  }
  log(`installing ${aptPackage} with apt-get`);
  const install = () =>
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', aptPackage], {
      stdio: 'ignore',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  try {
    install();
  } catch {
    execFileSync('apt-get', ['update'], { stdio: 'ignore' });
    install();
  }
  return find();
}

export function commandOk(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Formats a number for a table; NaN, null and undefined print as a dash. */
export function fmt(n: number | null | undefined, digits = 0): string {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  return n.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** A plain-text table: the first row is the header; the first column is left-aligned. */
export function textTable(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) =>
    r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '),
  );
}

export interface Bar {
  label: string;
  value: number;
  /** Shown after the bar instead of the rounded value. */
  text?: string;
  /** The platform's own bars are drawn in the accent colour. */
  ours?: boolean;
}

const escapeXml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A horizontal bar chart as a standalone SVG document. */
export function renderBarChart(title: string, bars: Bar[]): string {
  const width = 820;
  const labelWidth = 340;
  const barArea = width - labelWidth - 130;
  const rowHeight = 32;
  const top = 44;
  const height = top + bars.length * rowHeight + 16;
  const max = Math.max(...bars.map((b) => (Number.isFinite(b.value) ? b.value : 0)), 1e-9);
  const rows = bars
    .map((bar, i) => {
      const y = top + i * rowHeight;
      const value = Number.isFinite(bar.value) ? bar.value : 0;
      const w = Math.max(1, (value / max) * barArea);
      const fill = bar.ours ? '#2f6fde' : '#8a94a6';
      const text = bar.text ?? Math.round(value).toLocaleString('en');
      return [
        `<text x="${labelWidth - 8}" y="${y + 18}" text-anchor="end">${escapeXml(bar.label)}</text>`,
        `<rect x="${labelWidth}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowHeight - 10}" fill="${fill}"/>`,
        `<text x="${(labelWidth + w + 6).toFixed(1)}" y="${y + 18}">${escapeXml(text)}</text>`,
      ].join('');
    })
    .join('\n  ');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13">
  <rect width="100%" height="100%" fill="#fff"/>
  <text x="12" y="24" font-size="15" font-weight="bold">${escapeXml(title)}</text>
  ${rows}
</svg>
`;
}

/** Readings stored in `database`, counted as InfluxDB's admin. */
export async function countReadings(admin: InfluxClient, database: string): Promise<number> {
  const series = await admin.query('SELECT count(value) FROM readings', { database });
  const value = series[0]?.values?.[0]?.[1];
  return typeof value === 'number' ? value : 0;
}

/** Waits until InfluxDB holds `expected` readings or the count stops growing for a while. */
export async function waitForCount(admin: InfluxClient, database: string, expected: number) {
  let last = -1;
  let stableSince = Date.now();
  const end = Date.now() + 120_000;
  for (;;) {
    const count = await countReadings(admin, database);
    if (count >= expected || Date.now() > end) return count;
    if (count !== last) {
      last = count;
      stableSince = Date.now();
    } else if (Date.now() - stableSince > 10_000) {
      return count;
    }
    await sleep(250);
  }
}
