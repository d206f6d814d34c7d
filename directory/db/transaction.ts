import type pg from 'pg';

/** A pool, or a client inside a transaction the caller has begun. */
export type Queryable = pg.Pool | pg.PoolClient;

const isClient = (db: Queryable): db is pg.PoolClient => 'release' in db;

/**
 * Runs `work` in one transaction. Given a client, the caller's transaction is joined instead,
 * so repositories compose: a service opens the transaction and passes its client down.
 */
export async function transaction<T>(
  db: Queryable,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  if (isClient(db)) return work(db);
  const client = await db.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch((rollbackError: unknown) => {
      broken = rollbackError as Error;
    });
    throw err;
  } finally {
    // A client whose rollback failed is in an unknown state: the pool discards it.
    client.release(broken);
  }
}
