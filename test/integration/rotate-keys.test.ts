import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DataKeysRepository } from '../../directory/crypto/data-keys.repository.js';
import { MasterKeyring } from '../../directory/crypto/master-keyring.js';
import { rotateDataKeys } from '../../directory/crypto/rotate-keys.js';
import { useDirectoryDb } from '../support/directory-db.js';

/** P12: re-wrapping data keys under a new master key, against the real schema. */
describe('P12: rotateDataKeys', () => {
  const db = useDirectoryDb();
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  const before = new MasterKeyring(new Map([['old', oldKey]]), 'old');
  const during = new MasterKeyring(
    new Map([
      ['old', oldKey],
      ['new', newKey],
    ]),
    'new',
  );

  it('P12: counts what is left under other master keys after the run, so a key still in use is never reported as removable', async () => {
    const keys = new DataKeysRepository(db.pool, before);
    const made = [];
    for (let i = 0; i < 5; i += 1) made.push(await keys.create('user'));
    // Another transaction holds one data key while the rotation runs: the run skips it.
    const holder = await db.admin.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM data_keys WHERE id = $1 FOR UPDATE', [made[0]!.id]);
      const first = await rotateDataKeys(db.pool, during, { batchSize: 2 });
      expect(first).toMatchObject({ total: 5, rewrapped: 4, remaining: { old: 1 } });
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
    const second = await rotateDataKeys(db.pool, during, { batchSize: 2 });
    expect(second).toMatchObject({ total: 1, rewrapped: 1, remaining: {} });
    // Every key opens under the new master key alone.
    const after = new MasterKeyring(new Map([['new', newKey]]), 'new');
    const loaded = await new DataKeysRepository(db.pool, after).load(made.map((k) => k.id));
    expect(loaded.size).toBe(5);
  });
});
