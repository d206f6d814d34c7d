import { createServer } from 'node:net';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { transaction } from '../../directory/db/transaction.js';
import { createDirectoryPool } from '../../directory/db/pool.js';
import { DirectoryError } from '../../directory/directory.errors.js';
import { freePort } from '../../servers/free-port.js';

const { postgresAdminUrl } = inject('servers');

describe('the directory pool gives driver failures the directory codes', () => {
  const live = createDirectoryPool({ connectionString: postgresAdminUrl, max: 2 });
  afterAll(() => live.end());

  it('rejects with DIRECTORY_UNAVAILABLE when Postgres refuses connections, on query and connect', async () => {
    const url = new URL(postgresAdminUrl);
    // A port nothing listens on: every connection is refused.
    url.host = `127.0.0.1:${await freePort()}`;
    const down = createDirectoryPool({ connectionString: url.toString(), max: 1 });
    try {
      for (const attempt of [() => down.query('SELECT 1'), () => down.connect()]) {
        const error = await attempt().catch((err: unknown) => err);
        expect(error).toBeInstanceOf(DirectoryError);
        expect((error as DirectoryError).code).toBe('DIRECTORY_UNAVAILABLE');
      }
    } finally {
      await down.end();
    }
  });

  it('rejects with DIRECTORY_UNAVAILABLE when the server stops answering mid-transaction', async () => {
    // A listener that accepts and then says nothing: the driver's connection timeout fires.
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    const url = new URL(postgresAdminUrl);
    url.host = `127.0.0.1:${port}`;
    const mute = createDirectoryPool({
      connectionString: url.toString(),
      max: 1,
      connectionTimeoutMillis: 200,
    });
    try {
      const error = await mute.query('SELECT 1').catch((err: unknown) => err);
      expect((error as DirectoryError).code).toBe('DIRECTORY_UNAVAILABLE');
    } finally {
      await mute.end();
      silent.close();
    }
  });

  it('leaves errors the server reported for a statement as they are', async () => {
    const error = await live.query('SELECT * FROM no_such_table').catch((err: unknown) => err);
    expect(error).toBeInstanceOf(pg.DatabaseError);
    expect((error as pg.DatabaseError).code).toBe('42P01');
    // Inside a transaction too: the client the pool hands out is guarded the same way.
    const inTransaction = await transaction(live, (client) =>
      client.query('SELECT * FROM no_such_table'),
    ).catch((err: unknown) => err);
    expect((inTransaction as pg.DatabaseError).code).toBe('42P01');
  });

  it('still answers queries, with and without a transaction', async () => {
    expect((await live.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    const rows = await transaction(live, async (client) => {
      return (await client.query<{ two: number }>('SELECT 2 AS two')).rows;
    });
    expect(rows).toEqual([{ two: 2 }]);
  });
});
