import { randomBytes, randomUUID } from 'node:crypto';
import { DataKey } from './data-key.js';
import { KEY_BYTES } from './field-cipher.js';
import type { MasterKeyring } from './master-keyring.js';
import type { Queryable } from '../db/transaction.js';

export type DataKeyOwner = 'user' | 'organisation';

interface DataKeyRow {
  id: string;
  wrapped_key: Buffer;
  master_key_id: string;
}

/** Creates and unwraps the per-person and per-organisation data keys (P12). */
export class DataKeysRepository {
  constructor(
    private readonly db: Queryable,
    private readonly keyring: MasterKeyring,
  ) {}

  /** A new random key, stored wrapped by the active master key. */
  async create(owner: DataKeyOwner): Promise<DataKey> {
    const id = randomUUID();
    const key = randomBytes(KEY_BYTES);
    const { wrappedKey, masterKeyId } = this.keyring.wrap(id, key);
    await this.db.query(
      'INSERT INTO data_keys (id, owner, wrapped_key, master_key_id) VALUES ($1, $2, $3, $4)',
      [id, owner, wrappedKey, masterKeyId],
    );
    return new DataKey(id, key);
  }

  /** The unwrapped keys of `ids`; a shredded (deleted) key is simply absent. */
  async load(ids: readonly (string | null)[]): Promise<Map<string, DataKey>> {
    const wanted = [...new Set(ids.filter((id): id is string => id !== null))];
    if (wanted.length === 0) return new Map();
    const { rows } = await this.db.query<DataKeyRow>(
      'SELECT id, wrapped_key, master_key_id FROM data_keys WHERE id = ANY($1::uuid[])',
      [wanted],
    );
    return new Map(
      rows.map((row) => [
        row.id,
        new DataKey(row.id, this.keyring.unwrap(row.id, row.master_key_id, row.wrapped_key)),
      ]),
    );
  }

  async loadOne(id: string | null): Promise<DataKey | null> {
    return id === null ? null : ((await this.load([id])).get(id) ?? null);
  }
}
