import { randomUUID } from 'node:crypto';
import type { DirectoryCrypto } from '../crypto/crypto.config.js';
import type { DataKey } from '../crypto/data-key.js';
import { DataKeysRepository } from '../crypto/data-keys.repository.js';
import { organisationField, userField } from '../crypto/sealed-fields.js';
import { transaction, type Queryable } from '../db/transaction.js';
import type { Role } from '../organisations/roles.js';

export type UserOrigin = 'signup' | 'invitation' | 'admin';

export interface UserRecord {
  id: string;
  email: string;
  displayName: string;
  passwordHash: string | null;
  verified: boolean;
}

/** Everything the user may see and correct about themself (P15, P16). */
export interface UserProfile {
  id: string;
  email: string;
  name: string;
  phone: string | null;
  address: string | null;
  verified: boolean;
  origin: UserOrigin;
  settings: { omitNamesInEmail: boolean };
}

export interface Membership {
  orgId: string;
  orgName: string;
  role: Role;
}

export interface NewUser {
  email: string;
  displayName: string;
  passwordHash: string | null;
  verified: boolean;
  phone?: string | null;
  address?: string | null;
  origin?: UserOrigin;
  /** The organisation whose invitation creates the account: its admins may delete it (P6). */
  createdByOrgId?: string | null;
  /** The privacy terms version the user accepted (now), if any. */
  termsVersion?: string | null;
  omitNamesInEmail?: boolean;
}

export interface ProfilePatch {
  name?: string;
  phone?: string | null;
  address?: string | null;
  omitNamesInEmail?: boolean;
}

/** Another account already has this e-mail address. */
export class EmailInUseError extends Error {
  constructor() {
    super('the e-mail address belongs to another account');
    this.name = 'EmailInUseError';
  }
}

interface UserRow {
  id: string;
  email_ciphertext: Buffer;
  name_ciphertext: Buffer;
  phone_ciphertext: Buffer | null;
  address_ciphertext: Buffer | null;
  data_key_id: string | null;
  password_hash: string | null;
  verified: boolean;
  origin: UserOrigin;
  mail_omit_names: boolean;
}

const userColumns = `id, email_ciphertext, name_ciphertext, phone_ciphertext, address_ciphertext,
  data_key_id, password_hash, email_verified_at IS NOT NULL AS verified, origin, mail_omit_names`;

const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === '23505';

/**
 * People in the directory. Name, e-mail, phone and address are sealed with the person's own
 * data key before they reach Postgres (P12); the e-mail is found through its blind index. An
 * account whose data key has been shredded reads as absent.
 */
export class UsersRepository {
  private readonly keys: DataKeysRepository;

  constructor(
    private readonly db: Queryable,
    private readonly crypto: DirectoryCrypto,
  ) {
    this.keys = new DataKeysRepository(db, crypto.keyring);
  }

  emailIndex(email: string): Buffer {
    return this.crypto.blindIndex.email(email);
  }

  async create(input: NewUser): Promise<string> {
    return transaction(this.db, async (client) => {
      const id = randomUUID();
      const key = await new DataKeysRepository(client, this.crypto.keyring).create('user');
      try {
        await client.query(
          `INSERT INTO users (id, email_ciphertext, email_index, name_ciphertext, phone_ciphertext,
             address_ciphertext, data_key_id, password_hash, email_verified_at, origin,
             terms_version, terms_accepted_at, mail_omit_names, created_by_org_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $9::boolean THEN now() END, $10,
             $11, CASE WHEN $11::text IS NOT NULL THEN now() END, $12, $13)`,
          [
            id,
            key.seal(userField(id, 'email'), input.email.trim()),
            this.emailIndex(input.email),
            key.seal(userField(id, 'name'), input.displayName),
            key.sealOptional(userField(id, 'phone'), input.phone),
            key.sealOptional(userField(id, 'address'), input.address),
            key.id,
            input.passwordHash,
            input.verified,
            input.origin ?? 'admin',
            input.termsVersion ?? null,
            input.omitNamesInEmail ?? false,
            input.createdByOrgId ?? null,
          ],
        );
      } catch (err) {
        if (isUniqueViolation(err)) throw new EmailInUseError();
        throw err;
      }
      return id;
    });
  }

  async findByEmail(email: string): Promise<UserRecord | null> {
    const { rows } = await this.db.query<UserRow>(
      `SELECT ${userColumns} FROM users WHERE email_index = $1`,
      [this.emailIndex(email)],
    );
    return this.toRecord(rows[0]);
  }

  async findById(userId: string): Promise<UserRecord | null> {
    return this.toRecord(await this.row(userId));
  }

  /** The user's own data key, for sealing values kept elsewhere (registration, pending e-mail). */
  async dataKey(userId: string): Promise<DataKey | null> {
    return (await this.opened(userId))?.key ?? null;
  }

  async profile(userId: string): Promise<UserProfile | null> {
    return (await this.opened(userId))?.profile ?? null;
  }

  /** Profiles of several users at once (e-mail recipients, member lists). */
  async profiles(userIds: readonly string[]): Promise<Map<string, UserProfile>> {
    const { rows } = await this.db.query<UserRow>(
      `SELECT ${userColumns} FROM users WHERE id = ANY($1::uuid[])`,
      [[...new Set(userIds)]],
    );
    const keys = await this.keys.load(rows.map((r) => r.data_key_id));
    const profiles = new Map<string, UserProfile>();
    for (const row of rows) {
      const key = row.data_key_id ? keys.get(row.data_key_id) : undefined;
      if (key) profiles.set(row.id, openProfile(row, key));
    }
    return profiles;
  }

  /** Changes the given fields; returns the names of those that really changed. */
  async update(userId: string, patch: ProfilePatch): Promise<string[]> {
    const opened = await this.opened(userId);
    if (!opened) return [];
    const { key, profile: current } = opened;
    const sets: string[] = [];
    const values: unknown[] = [userId];
    const changed: string[] = [];
    const set = (column: string, value: unknown, field: string) => {
      values.push(value);
      sets.push(`${column} = $${values.length}`);
      changed.push(field);
    };
    if (patch.name !== undefined && patch.name !== current.name) {
      set('name_ciphertext', key.seal(userField(userId, 'name'), patch.name), 'name');
    }
    if (patch.phone !== undefined && patch.phone !== current.phone) {
      set('phone_ciphertext', key.sealOptional(userField(userId, 'phone'), patch.phone), 'phone');
    }
    if (patch.address !== undefined && patch.address !== current.address) {
      const sealed = key.sealOptional(userField(userId, 'address'), patch.address);
      set('address_ciphertext', sealed, 'address');
    }
    if (
      patch.omitNamesInEmail !== undefined &&
      patch.omitNamesInEmail !== current.settings.omitNamesInEmail
    ) {
      set('mail_omit_names', patch.omitNamesInEmail, 'settings.omitNamesInEmail');
    }
    if (sets.length > 0) {
      await this.db.query(`UPDATE users SET ${sets.join(', ')} WHERE id = $1`, values);
    }
    return changed;
  }

  /** Moves the account to a new (verified) address; EmailInUseError if another has it. */
  async changeEmail(userId: string, email: string): Promise<void> {
    const key = (await this.opened(userId))?.key;
    if (!key) throw new Error('account not found');
    try {
      await this.db.query(
        'UPDATE users SET email_ciphertext = $2, email_index = $3 WHERE id = $1',
        [userId, key.seal(userField(userId, 'email'), email.trim()), this.emailIndex(email)],
      );
    } catch (err) {
      if (isUniqueViolation(err)) throw new EmailInUseError();
      throw err;
    }
  }

  /** Marks the e-mail verified; returns false when it already was. */
  async markVerified(userId: string): Promise<boolean> {
    const { rowCount } = await this.db.query(
      'UPDATE users SET email_verified_at = now() WHERE id = $1 AND email_verified_at IS NULL',
      [userId],
    );
    return rowCount === 1;
  }

  async setPassword(userId: string, passwordHash: string): Promise<void> {
    await this.db.query('UPDATE users SET password_hash = $2 WHERE id = $1', [
      userId,
      passwordHash,
    ]);
  }

  /**
   * Replaces the hash only while it is still `previous`: a sign-in's rehash must never write a
   * hash of the old password over one a reset or change has set meanwhile.
   */
  async replacePasswordHash(userId: string, previous: string, next: string): Promise<void> {
    await this.db.query(
      'UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2',
      [userId, previous, next],
    );
  }

  async acceptTerms(userId: string, version: string): Promise<void> {
    await this.db.query(
      'UPDATE users SET terms_version = $2, terms_accepted_at = now() WHERE id = $1',
      [userId, version],
    );
  }

  /**
   * Gives a pending sign-up its name, password and settings, chosen by whoever opened its
   * link, and activates it; false when it is active already.
   */
  async completeSignup(
    userId: string,
    input: {
      displayName: string;
      passwordHash: string;
      termsVersion: string;
      omitNamesInEmail: boolean;
    },
  ): Promise<boolean> {
    const key = (await this.opened(userId))?.key;
    if (!key) return false;
    const { rowCount } = await this.db.query(
      `UPDATE users SET name_ciphertext = $2, password_hash = $3, terms_version = $4,
         terms_accepted_at = now(), mail_omit_names = $5, email_verified_at = now()
       WHERE id = $1 AND email_verified_at IS NULL`,
      [
        userId,
        key.seal(userField(userId, 'name'), input.displayName),
        input.passwordHash,
        input.termsVersion,
        input.omitNamesInEmail,
      ],
    );
    return rowCount === 1;
  }

  async memberships(userId: string): Promise<Membership[]> {
    const { rows } = await this.db.query<{
      org_id: string;
      name_ciphertext: Buffer;
      data_key_id: string | null;
      role: Role;
    }>(
      `SELECT m.org_id, o.name_ciphertext, o.data_key_id, m.role
       FROM memberships m JOIN organisations o ON o.id = m.org_id WHERE m.user_id = $1`,
      [userId],
    );
    const keys = await this.keys.load(rows.map((r) => r.data_key_id));
    return rows
      .flatMap((r) => {
        const key = r.data_key_id ? keys.get(r.data_key_id) : undefined;
        if (!key) return [];
        const orgName = key.open(organisationField(r.org_id, 'name'), r.name_ciphertext);
        return [{ orgId: r.org_id, orgName, role: r.role }];
      })
      .sort((a, b) => a.orgName.localeCompare(b.orgName) || a.orgId.localeCompare(b.orgId));
  }

  private async row(userId: string): Promise<UserRow | undefined> {
    const { rows } = await this.db.query<UserRow>(
      `SELECT ${userColumns} FROM users WHERE id = $1`,
      [userId],
    );
    return rows[0];
  }

  private async opened(userId: string): Promise<{ key: DataKey; profile: UserProfile } | null> {
    const row = await this.row(userId);
    const key = row ? await this.keys.loadOne(row.data_key_id) : null;
    return row && key ? { key, profile: openProfile(row, key) } : null;
  }

  private async toRecord(row: UserRow | undefined): Promise<UserRecord | null> {
    if (!row) return null;
    const key = await this.keys.loadOne(row.data_key_id);
    if (!key) return null;
    return {
      id: row.id,
      email: key.open(userField(row.id, 'email'), row.email_ciphertext),
      displayName: key.open(userField(row.id, 'name'), row.name_ciphertext),
      passwordHash: row.password_hash,
      verified: row.verified,
    };
  }
}

function openProfile(row: UserRow, key: DataKey): UserProfile {
  return {
    id: row.id,
    email: key.open(userField(row.id, 'email'), row.email_ciphertext),
    name: key.open(userField(row.id, 'name'), row.name_ciphertext),
    phone: key.openOptional(userField(row.id, 'phone'), row.phone_ciphertext),
    address: key.openOptional(userField(row.id, 'address'), row.address_ciphertext),
    verified: row.verified,
    origin: row.origin,
    settings: { omitNamesInEmail: row.mail_omit_names },
  };
}
