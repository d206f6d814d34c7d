import pg from 'pg';
import { DirectoryError } from '../directory.errors.js';

/** Network failures as Node names them. */
const networkErrnos = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
]);

/**
 * SQLSTATEs of a server that is going away or cannot take connections: admin shutdown, crash
 * shutdown, cannot connect now, and the connection exception class (08…).
 */
const unavailableStates = (state: string) =>
  ['57P01', '57P02', '57P03'].includes(state) || state.startsWith('08');

/**
 * What a failure of the pg driver means. A statement the server refused arrives as a
 * `DatabaseError` with its SQLSTATE, and stays as it is (repositories act on constraint
 * violations); a connection that failed arrives as a Node system error, or as one of the
 * driver's plain `Error`s (terminated, connection or read timeout, not queryable), which carry
 * no code: those become DIRECTORY_UNAVAILABLE.
 */
function translatePgError(err: unknown): unknown {
  if (err instanceof pg.DatabaseError) {
    return unavailableStates(err.code ?? '') ? unavailable(err) : err;
  }
  if (!(err instanceof Error)) return err;
  const { code } = err as { code?: unknown };
  if (typeof code === 'string') return networkErrnos.has(code) ? unavailable(err) : err;
  return Object.getPrototypeOf(err) === Error.prototype ? unavailable(err) : err;
}

const unavailable = (cause: Error) =>
  new DirectoryError('DIRECTORY_UNAVAILABLE', 'Postgres is unavailable', { cause });

type AnyQuery = (...args: unknown[]) => unknown;

/** Rejections of a promise form pass through translatePgError; callback forms are left alone. */
function guardQuery(query: AnyQuery): AnyQuery {
  return (...args) => {
    const result = query(...args);
    return result instanceof Promise
      ? result.catch((err: unknown) => {
          throw translatePgError(err);
        })
      : result;
  };
}

/**
 * A Postgres pool whose failures carry the directory's codes (directory/directory.errors.ts): `query`,
 * `connect` and the queries of every client it hands out reject with DIRECTORY_UNAVAILABLE
 * when the server cannot be reached, so callers never read the driver's messages.
 */
export function createDirectoryPool(config: pg.PoolConfig): pg.Pool {
  const pool = new pg.Pool(config);
  const guarded = new WeakSet<pg.PoolClient>();
  pool.query = guardQuery(pool.query.bind(pool)) as typeof pool.query;
  const connect = pool.connect.bind(pool) as AnyQuery;
  pool.connect = ((...args: unknown[]) => {
    // pool.query checks out its client with a callback; its own rejection is guarded above.
    if (args.length > 0) return connect(...args);
    return (connect() as Promise<pg.PoolClient>).then(
      (client) => {
        if (!guarded.has(client)) {
          client.query = guardQuery(client.query.bind(client)) as typeof client.query;
          guarded.add(client);
        }
        return client;
      },
      (err: unknown) => {
        throw translatePgError(err);
      },
    );
  }) as typeof pool.connect;
  return pool;
}
