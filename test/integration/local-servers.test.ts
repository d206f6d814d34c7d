import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInflux, startPostgres } from '../../servers/local-servers.js';
import { until } from '../support/wait.js';

const SERVER_TEST_TIMEOUT_MS = 120_000;

let root: string;
/** Everything started, so a failing test still leaves no server behind (stop is idempotent). */
const started: { stop(): Promise<void> }[] = [];

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'telemoat-local-servers-'));
  // mkdtemp makes a 0700 folder; Postgres runs as the `postgres` user and must traverse it.
  await chmod(root, 0o755);
});

afterAll(async () => {
  await Promise.all(started.map((server) => server.stop()));
  await rm(root, { recursive: true, force: true });
});

/** The process group of a process, from /proc (field 5 of its stat line). */
/** Starts a server and has afterAll stop it, whatever the test does. */
async function stopLater<S extends { stop(): Promise<void> }>(server: Promise<S>): Promise<S> {
  started.push(await server);
  return server;
}

async function processGroupOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function queryPostgres(url: string, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

interface Credentials {
  user: string;
  password: string;
}

function influxPost(
  url: string,
  endpoint: string,
  body: string | URLSearchParams,
  auth?: Credentials,
): Promise<Response> {
  const headers: Record<string, string> = {};
  if (auth !== undefined) {
    headers.authorization = `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}`;
  }
  return fetch(`${url}${endpoint}`, { method: 'POST', headers, body });
}

function influxQuery(url: string, statement: string, auth?: Credentials): Promise<Response> {
  return influxPost(url, '/query?db=kept', new URLSearchParams({ q: statement }), auth);
}

describe('startPostgres', { timeout: SERVER_TEST_TIMEOUT_MS }, () => {
  it('serves queries, stops, and keeps its data across a restart', async () => {
    const dataDir = path.join(root, 'postgres');
    const first = await stopLater(startPostgres({ dataDir }));
    expect(first.url).toMatch(/^postgres:\/\/telemoat_admin:[^@]+@127\.0\.0\.1:\d+\/postgres$/);
    expect(first.url).toContain(`:${first.port}/`);

    const version = await queryPostgres(first.url, 'SHOW server_version');
    expect(version.rows[0]).toHaveProperty('server_version');
    // A process group of its own: a terminal's Ctrl+C to the platform does not reach it, so
    // the platform can stop its components before its servers.
    const pid = Number(
      (await readFile(path.join(dataDir, 'pgdata', 'postmaster.pid'), 'utf8')).split('\n')[0],
    );
    expect(await processGroupOf(pid)).toBe(pid);
    expect(await processGroupOf(process.pid)).not.toBe(pid);
    await queryPostgres(first.url, 'CREATE TABLE kept (note text)');
    await queryPostgres(first.url, "INSERT INTO kept VALUES ('survives restart')");

    const passwordFile = await stat(path.join(dataDir, 'superuser-password'));
    expect(passwordFile.mode & 0o777).toBe(0o600);

    await first.stop();
    expect(await isListening(first.port)).toBe(false);

    const second = await stopLater(startPostgres({ dataDir, port: first.port }));
    expect(second.url).toBe(first.url);
    const kept = await queryPostgres(second.url, 'SELECT note FROM kept');
    expect(kept.rows).toEqual([{ note: 'survives restart' }]);
    await second.stop();
    expect(await isListening(second.port)).toBe(false);
  });

  it('rejects a wrong password', async () => {
    const server = await stopLater(startPostgres({ dataDir: path.join(root, 'postgres-auth') }));
    const wrong = new URL(server.url);
    wrong.password = 'not-the-password';
    await expect(queryPostgres(wrong.href, 'SELECT 1')).rejects.toThrow(/password/);
    await server.stop();
  });
});

describe('startInflux', { timeout: SERVER_TEST_TIMEOUT_MS }, () => {
  it('requires authentication, stops, and keeps its data across a restart', async () => {
    const dataDir = path.join(root, 'influx');
    const first = await stopLater(startInflux({ dataDir }));
    expect(first.url).toBe(`http://127.0.0.1:${first.port}`);
    const admin = { user: first.adminUser, password: first.adminPassword };

    const created = await influxQuery(first.url, 'CREATE DATABASE kept', admin);
    expect(created.status).toBe(200);
    // InfluxDB 1.x may answer "database not found" for a moment after CREATE DATABASE
    // under load, so the write is retried until it is not a 404; the platform's drainer
    // retries 404 too.
    let status = 0;
    await until(async () => {
      const written = await influxPost(
        first.url,
        '/write?db=kept&precision=s',
        'reading,device=d1 value=42 1700000000',
        admin,
      );
      await written.body?.cancel();
      status = written.status;
      return status !== 404;
    }, 'InfluxDB knows the new database');
    expect(status).toBe(204);

    const anonymous = await influxQuery(first.url, 'SHOW MEASUREMENTS');
    expect(anonymous.status).toBe(401);
    await anonymous.body?.cancel();

    await first.stop();
    expect(await isListening(first.port)).toBe(false);

    const second = await stopLater(startInflux({ dataDir }));
    expect(second.adminPassword).toBe(first.adminPassword);
    const selected = await influxQuery(second.url, 'SELECT value FROM reading', admin);
    expect(selected.status).toBe(200);
    expect(await selected.json()).toEqual({
      results: [
        {
          statement_id: 0,
          series: [
            {
              name: 'reading',
              columns: ['time', 'value'],
              values: [['2023-11-14T22:13:20Z', 42]],
            },
          ],
        },
      ],
    });
    await second.stop();
    expect(await isListening(second.port)).toBe(false);
  });
});
