import type pg from 'pg';
import type { DataKey, FieldPlace } from './data-key.js';
import { CipherError } from './field-cipher.js';
import type { DataKeysRepository } from './data-keys.repository.js';

/**
 * A user's own data key, for the personal fields kept beside sessions and sign-ins (P12). The
 * key's id is looked up by the user's id here rather than through the users repository, which
 * would also open the user's e-mail and name.
 */
export class UserDataKeys {
  constructor(
    private readonly pool: pg.Pool,
    private readonly dataKeys: Pick<DataKeysRepository, 'loadOne'>,
  ) {}

  /** The user's key, or null when it has been shredded (the account is being erased). */
  async forUser(userId: string): Promise<DataKey | null> {
    const { rows } = await this.pool.query<{ data_key_id: string | null }>(
      'SELECT data_key_id FROM users WHERE id = $1',
      [userId],
    );
    return this.dataKeys.loadOne(rows[0]?.data_key_id ?? null);
  }
}

export type UserKeys = Pick<UserDataKeys, 'forUser'>;

/** Seals a value when there is a key; without one, nothing is stored. */
export function sealWith(key: DataKey | null, place: FieldPlace, value: string): Buffer | null {
  return key ? key.seal(place, value) : null;
}

/** Opens a sealed value, or returns null when the key is gone or the value does not open. */
export function openWith(
  key: DataKey | null,
  place: FieldPlace,
  sealed: Buffer | null,
): string | null {
  if (!key || !sealed) return null;
  try {
    return key.open(place, sealed);
  } catch (err) {
    if (err instanceof CipherError) return null;
    throw err;
  }
}
