import type pg from 'pg';
import type { MasterKeyring } from './master-keyring.js';

export interface RotationProgress {
  /** Data keys re-wrapped so far by this run. */
  rewrapped: number;
  /** Data keys that were wrapped by another master key when the run started. */
  total: number;
  /** Data keys per master key id when the run started, for the operator. */
  byMasterKey: Record<string, number>;
}

export interface RotationResult extends RotationProgress {
  /**
   * Data keys still under another master key when the run ended, counted afresh: rows another
   * transaction held, or keys an API instance still made under the old active key. A master key
   * may be removed only when nothing is left under it.
   */
  remaining: Record<string, number>;
}

export interface RotationOptions {
  /** Data keys per transaction; each batch commits on its own, so the API never waits long. */
  batchSize?: number;
  onProgress?: (progress: RotationProgress) => void;
}

interface WrappedRow {
  id: string;
  wrapped_key: Buffer;
  master_key_id: string;
}

/**
 * Re-wraps every data key that is not yet under the keyring's active master key (P12), in
 * batches of `batchSize` per transaction, while the API keeps serving: a data key is readable
 * under its old and its new wrapping as long as the API has both master keys, and rows being
 * re-wrapped are locked only for the length of their own batch (others skip them).
 *
 * The procedure: give every API instance the new master key and make it active (new data keys
 * are then wrapped by it), run this, then remove the old key from config. The personal values
 * themselves are not touched: only the wrapping of their data keys changes.
 */
export async function rotateDataKeys(
  pool: pg.Pool,
  keyring: MasterKeyring,
  options: RotationOptions = {},
): Promise<RotationResult> {
  const batchSize = options.batchSize ?? 500;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error('batchSize must be >= 1');
  const active = keyring.activeKeyId;
  const counts = await pool.query<{ master_key_id: string; n: string }>(
    'SELECT master_key_id, count(*) AS n FROM data_keys GROUP BY master_key_id ORDER BY 1',
  );
  const byMasterKey = Object.fromEntries(counts.rows.map((r) => [r.master_key_id, Number(r.n)]));
  const unknown = Object.keys(byMasterKey).filter((id) => !keyring.has(id));
  if (unknown.length > 0) {
    throw new Error(
      `data keys are wrapped by master keys that are not configured: ${unknown.join(', ')}; add them to DIRECTORY_MASTER_KEYS first`,
    );
  }
  const progress: RotationProgress = {
    rewrapped: 0,
    total: counts.rows
      .filter((r) => r.master_key_id !== active)
      .reduce((n, r) => n + Number(r.n), 0),
    byMasterKey,
  };
  options.onProgress?.({ ...progress });

  for (;;) {
    const client = await pool.connect();
    let done: number;
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<WrappedRow>(
        `SELECT id, wrapped_key, master_key_id FROM data_keys WHERE master_key_id <> $1
         ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED`,
        [active, batchSize],
      );
      const ids: string[] = [];
      const wrapped: Buffer[] = [];
      for (const row of rows) {
        const key = keyring.unwrap(row.id, row.master_key_id, row.wrapped_key);
        ids.push(row.id);
        wrapped.push(keyring.wrap(row.id, key).wrappedKey);
        key.fill(0);
      }
      if (ids.length > 0) {
        await client.query(
          `UPDATE data_keys d SET wrapped_key = u.wrapped_key, master_key_id = $3, rotated_at = now()
           FROM unnest($1::uuid[], $2::bytea[]) AS u (id, wrapped_key) WHERE d.id = u.id`,
          [ids, wrapped, active],
        );
      }
      await client.query('COMMIT');
      done = ids.length;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
    if (done === 0) break;
    progress.rewrapped += done;
    options.onProgress?.({ ...progress });
  }
  const left = await pool.query<{ master_key_id: string; n: string }>(
    `SELECT master_key_id, count(*) AS n FROM data_keys WHERE master_key_id <> $1
     GROUP BY master_key_id ORDER BY 1`,
    [active],
  );
  return {
    ...progress,
    remaining: Object.fromEntries(left.rows.map((r) => [r.master_key_id, Number(r.n)])),
  };
}
