import { createServer, request, type Server } from 'node:http';
import { Writable } from 'node:stream';
import express, { type Express } from 'express';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { errorHandler, requestContext } from '../../api/http/http.js';
import { compression } from '../../api/http/middleware/caching.middleware.js';
import { TokenBuckets } from '../../api/http/middleware/rate-limit.middleware.js';
import { listen } from '../../common/listen.js';
import { DirectoryError } from '../../directory/directory.errors.js';
import { InfluxError } from '../../influx/influx.client.js';
import { TelemetryError } from '../../influx/telemetry.errors.js';

describe('TokenBuckets', () => {
  it('allows a burst of the per-minute allowance, then refills continuously', () => {
    let now = 0;
    const buckets = new TokenBuckets({ perMinute: 60, now: () => now });
    for (let i = 0; i < 60; i++) expect(buckets.take('a').allowed).toBe(true);
    const refused = buckets.take('a');
    expect(refused).toMatchObject({ allowed: false, remaining: 0, retryAfterSeconds: 1 });
    expect(buckets.take('b').allowed).toBe(true);
    now += 1000; // one token per second
    expect(buckets.take('a').allowed).toBe(true);
    expect(buckets.take('a').allowed).toBe(false);
  });

  it('keeps memory bounded: idle buckets are swept and the count is capped', () => {
    let now = 0;
    const buckets = new TokenBuckets({ perMinute: 10, maxBuckets: 100, now: () => now });
    for (let i = 0; i < 500; i++) buckets.take(`ip-${i}`);
    expect(buckets.size).toBe(100);
    now += 61_000; // every bucket has refilled: the next take sweeps them
    buckets.take('fresh');
    expect(buckets.size).toBe(1);
  });
});

describe('app-level middleware', () => {
  let server: Server | undefined;

  afterEach(async () => {
    await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
    server = undefined;
  });

  async function serve(app: Express): Promise<number> {
    server = createServer(app);
    return listen(server, 0, '127.0.0.1');
  }

  function get(port: number, path: string, headers: Record<string, string> = {}) {
    return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
      (resolve, reject) => {
        request({ host: '127.0.0.1', port, path, headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString('latin1'),
            }),
          );
        })
          .on('error', reject)
          .end();
      },
    );
  }

  it('compresses JSON but never a text/event-stream (live streams must not be buffered)', async () => {
    const app = express();
    app.use(compression());
    const big = 'x'.repeat(4096);
    app.get('/json', (_req, res) => {
      res.json({ big });
    });
    app.get('/events', (_req, res) => {
      res.setHeader('Content-Type', 'text/event-stream');
      res.write(`data: ${big}\n\n`);
      res.end();
    });
    const port = await serve(app);
    const json = await get(port, '/json', { 'accept-encoding': 'gzip' });
    expect(json.headers['content-encoding']).toBe('gzip');
    const events = await get(port, '/events', { 'accept-encoding': 'gzip' });
    expect(events.headers['content-encoding']).toBeUndefined();
    expect(events.body).toBe(`data: ${big}\n\n`);
  });

  it('answers an internal error with nothing internal, and logs it with the request id', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const app = express();
    app.use(requestContext(pino({ level: 'info' }, sink)));
    app.get('/boom', () => {
      throw new Error('password=hunter2 at /srv/telemoat/api/secret.ts:12');
    });
    app.get('/pg-down', (_req, _res, next) => {
      next(new DirectoryError('DIRECTORY_UNAVAILABLE', 'the database system is starting up'));
    });
    app.get('/refused', (_req, _res, next) => {
      next(new InfluxError('connect ECONNREFUSED 127.0.0.1:8086', 0));
    });
    app.get('/mail-down', (_req, _res, next) => {
      next(new DirectoryError('MAIL_UNAVAILABLE', 'the mail server did not accept the message'));
    });
    app.get('/too-wide', (_req, _res, next) => {
      next(new TelemetryError('TELEMETRY_RANGE_TOO_LARGE', 'at most 10000 windows'));
    });
    app.get('/refused-query', (_req, _res, next) => {
      next(new InfluxError('error parsing query', 400));
    });
    app.use(errorHandler());
    const port = await serve(app);

    const boom = await get(port, '/boom', { 'x-request-id': 'req-boom-0001' });
    expect(boom.status).toBe(500);
    expect(JSON.parse(boom.body)).toEqual({
      code: 'INTERNAL',
      message: 'Something went wrong on our side.',
    });
    expect(boom.body).not.toMatch(/hunter2|secret\.ts|Error/);
    expect(lines).toContainEqual(
      expect.objectContaining({ requestId: 'req-boom-0001', msg: 'request failed' }),
    );

    const tooWide = await get(port, '/too-wide');
    expect(tooWide.status).toBe(400);
    expect(JSON.parse(tooWide.body)).toMatchObject({
      code: 'VALIDATION_FAILED',
      details: [{ path: 'window', message: 'at most 10000 windows' }],
    });
    expect((await get(port, '/refused-query')).status).toBe(500);

    for (const path of ['/pg-down', '/refused', '/mail-down']) {
      const down = await get(port, path);
      expect(down.status).toBe(503);
      expect(down.headers['retry-after']).toBe('5');
      expect(JSON.parse(down.body)).toEqual({
        code: 'SERVICE_UNAVAILABLE',
        message: 'A storage service is unavailable; try again.',
      });
    }
    // Every line logged for a request names it.
    expect(lines.every((line) => typeof line.requestId === 'string')).toBe(true);
  });
});
