import { constants, gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { TelemetryError } from './telemetry.errors.js';

/**
 * A small client for the InfluxDB v1 HTTP API (`/write` with line protocol, `/query` with
 * InfluxQL and bound `params`). InfluxDB 1.x serves it natively and 2.x/3.x through their v1
 * compatibility endpoints, so one adapter covers the Debian 1.6 server and production.
 * Credentials travel in an Authorization header, never in the URL, so they stay out of logs.
 */

export interface InfluxCredentials {
  url: string;
  username: string;
  password: string;
}

export type QueryParams = Record<string, string | number | boolean>;

export interface InfluxSeries {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  /** Left out by InfluxDB when the series has no rows (e.g. SHOW USERS on a fresh server). */
  values?: unknown[][];
}

/** A failed request to InfluxDB; `status` is its HTTP status, 0 when no answer came. */
export class InfluxError extends TelemetryError {
  constructor(
    message: string,
    readonly status: number,
    options?: { cause?: unknown },
  ) {
    // 5xx, timeouts and refused connections may succeed later; a 4xx will not.
    super(
      status === 0 || status >= 500 ? 'TELEMETRY_UNAVAILABLE' : 'TELEMETRY_REJECTED',
      message,
      options,
    );
  }

  get retryable(): boolean {
    return this.code === 'TELEMETRY_UNAVAILABLE';
  }
}

export interface WriteOptions {
  retentionPolicy?: string;
  /** Line protocol compresses about eightfold; InfluxDB 1.x accepts gzip bodies on /write. */
  gzip?: boolean;
}

const gzipAsync = promisify(gzip);
/**
 * Fastest compression: on a 5,000-line batch level 1 takes about a third of the CPU of the
 * default level 6 and still shrinks it 8× instead of 10× (bench, docs/performance.md).
 */
const GZIP_OPTIONS = { level: constants.Z_BEST_SPEED };

export class InfluxClient {
  private readonly authorization: string;

  constructor(
    private readonly credentials: InfluxCredentials,
    private readonly timeoutMs = 10_000,
  ) {
    const token = Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64');
    this.authorization = `Basic ${token}`;
  }

  async ping(): Promise<boolean> {
    try {
      const response = await fetch(new URL('/ping', this.credentials.url), {
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      return response.status === 204;
    } catch {
      return false;
    }
  }

  /** Writes line protocol; resolves only when InfluxDB answered 204 for the whole body. */
  async write(database: string, body: string, options: WriteOptions = {}): Promise<void> {
    const url = new URL('/write', this.credentials.url);
    url.searchParams.set('db', database);
    url.searchParams.set('precision', 'ms');
    if (options.retentionPolicy) url.searchParams.set('rp', options.retentionPolicy);
    // Async gzip: a 5,000-line batch must not stall the event loop that acknowledges devices.
    const response = options.gzip
      ? await this.send(url, await gzipAsync(body, GZIP_OPTIONS), 'text/plain; charset=utf-8', {
          'content-encoding': 'gzip',
        })
      : await this.send(url, body, 'text/plain; charset=utf-8');
    if (response.status !== 204) {
      throw new InfluxError(`write failed: ${await errorText(response)}`, response.status);
    }
  }

  /**
   * Runs InfluxQL. Every value that came from outside must be passed in `params` and referred
   * to as `$name`, so it can never change the statement's meaning.
   */
  async query(
    statement: string,
    options: { database?: string; params?: QueryParams } = {},
  ): Promise<InfluxSeries[]> {
    const form = new URLSearchParams({ q: statement, epoch: 'ms' });
    if (options.database) form.set('db', options.database);
    if (options.params) form.set('params', JSON.stringify(options.params));
    const response = await this.send(
      new URL('/query', this.credentials.url),
      form.toString(),
      'application/x-www-form-urlencoded',
    );
    if (response.status !== 200) {
      throw new InfluxError(`query failed: ${await errorText(response)}`, response.status);
    }
    const payload = await answerOf(
      () =>
        response.json() as Promise<{
          results?: { error?: string; series?: InfluxSeries[] }[];
          error?: string;
        }>,
    );
    const failure = payload.error ?? payload.results?.find((r) => r.error)?.error;
    if (failure) throw new InfluxError(`query failed: ${failure}`, 400);
    return (payload.results ?? []).flatMap((r) => r.series ?? []);
  }

  /**
   * Runs one InfluxQL SELECT as a chunked query: InfluxDB sends one JSON object per line, each
   * with at most `chunkSize` rows, and this yields its series as they arrive. Only one chunk is
   * held at a time, and the body is read only as fast as the caller asks for more, so a query
   * over millions of rows costs the memory of a chunk. Leaving the loop early, or aborting
   * `signal`, ends the request to InfluxDB. `params` works as in `query`.
   */
  async *queryStream(
    statement: string,
    options: { database?: string; params?: QueryParams; chunkSize?: number; signal?: AbortSignal },
  ): AsyncGenerator<InfluxSeries, void, undefined> {
    const form = new URLSearchParams({
      q: statement,
      epoch: 'ms',
      chunked: 'true',
      chunk_size: String(options.chunkSize ?? 10_000),
    });
    if (options.database) form.set('db', options.database);
    if (options.params) form.set('params', JSON.stringify(options.params));
    options.signal?.throwIfAborted();
    const controller = new AbortController();
    const forward = () => controller.abort(options.signal?.reason);
    options.signal?.addEventListener('abort', forward, { once: true });
    try {
      // The timeout covers the answer's start only: a long export may stream for minutes.
      const timer = setTimeout(() => controller.abort(new Error('timeout')), this.timeoutMs);
      let response: Response;
      try {
        response = await fetch(new URL('/query', this.credentials.url), {
          method: 'POST',
          headers: {
            authorization: this.authorization,
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: form.toString(),
          signal: controller.signal,
        });
      } catch (err) {
        options.signal?.throwIfAborted();
        throw new InfluxError(`InfluxDB unreachable: ${(err as Error).message}`, 0, { cause: err });
      } finally {
        clearTimeout(timer);
      }
      if (response.status !== 200 || !response.body) {
        throw new InfluxError(`query failed: ${await errorText(response)}`, response.status);
      }
      try {
        for await (const line of jsonLines(response.body)) {
          const payload = JSON.parse(line) as {
            results?: { error?: string; series?: InfluxSeries[] }[];
            error?: string;
          };
          const failure = payload.error ?? payload.results?.find((r) => r.error)?.error;
          if (failure) throw new InfluxError(`query failed: ${failure}`, 400);
          for (const result of payload.results ?? []) yield* result.series ?? [];
        }
      } catch (err) {
        options.signal?.throwIfAborted();
        if (err instanceof InfluxError) throw err;
        throw new InfluxError(`InfluxDB answer broke off: ${(err as Error).message}`, 0, {
          cause: err,
        });
      }
    } finally {
      // Ends the request when the caller stopped early; a no-op once the body was read.
      controller.abort();
      options.signal?.removeEventListener('abort', forward);
    }
  }

  private async send(
    url: URL,
    body: string | Buffer,
    contentType: string,
    extraHeaders: Record<string, string> = {},
  ): Promise<Response> {
    try {
      return await fetch(url, {
        method: 'POST',
        headers: {
          authorization: this.authorization,
          'content-type': contentType,
          ...extraHeaders,
        },
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new InfluxError(`InfluxDB unreachable: ${(err as Error).message}`, 0, { cause: err });
    }
  }
}

/** The non-empty lines of a UTF-8 body, each assembled from as many reads as it spans. */
async function* jsonLines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let pending: string[] = [];
  for await (const bytes of body) {
    const text = decoder.decode(bytes, { stream: true });
    let start = 0;
    for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
      pending.push(text.slice(start, end));
      const line = pending.join('');
      pending = [];
      start = end + 1;
      if (line.trim()) yield line;
    }
    if (start < text.length) pending.push(text.slice(start));
  }
  const rest = pending.join('') + decoder.decode();
  if (rest.trim()) yield rest;
}

/**
 * Reads an answer's body. The request's timeout still runs while the body arrives, and a body
 * cut off by it (or by a dropped connection) means InfluxDB is unavailable, as a refused
 * connection does; it must not surface as some other error.
 */
async function answerOf<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    throw new InfluxError(`InfluxDB answer cut off: ${(err as Error).message}`, 0, { cause: err });
  }
}

async function errorText(response: Response): Promise<string> {
  const text = await answerOf(() => response.text());
  try {
    return (JSON.parse(text) as { error?: string }).error ?? text;
  } catch {
    return `${response.status} ${text}`.trim();
  }
}

/** Turns series rows into objects keyed by column name. */
export function rowsOf(series: InfluxSeries): Record<string, unknown>[] {
  return (series.values ?? []).map((row) =>
    Object.fromEntries(series.columns.map((column, i) => [column, row[i]])),
  );
}
