import { randomUUID } from 'node:crypto';
import { newPseudonym } from '../../common/ids.js';
import type { DirectoryCrypto } from '../crypto/crypto.config.js';
import { DataKeysRepository } from '../crypto/data-keys.repository.js';
import { organisationField } from '../crypto/sealed-fields.js';
import { transaction, type Queryable } from '../db/transaction.js';
import type { Role } from './roles.js';

export interface Organisation {
  id: string;
  name: string;
  address: string | null;
  region: string;
  tenantKey: string;
}

interface OrganisationRow {
  id: string;
  name_ciphertext: Buffer;
  address_ciphertext: Buffer | null;
  data_key_id: string | null;
  region: string;
  tenant_key: string;
}

/**
 * Organisations. Company name and address are sealed with the organisation's own data key
 * (P12); the region (P13) and the tenant pseudonym stay readable, as routing needs them.
 */
export class OrganisationsRepository {
  private readonly keys: DataKeysRepository;

  constructor(
    private readonly db: Queryable,
    private readonly crypto: DirectoryCrypto,
  ) {
    this.keys = new DataKeysRepository(db, crypto.keyring);
  }

  async create(
    name: string,
    options: { address?: string | null; region?: string } = {},
  ): Promise<Organisation> {
    return transaction(this.db, async (client) => {
      const id = randomUUID();
      const tenantKey = newPseudonym();
      const region = options.region ?? 'eu';
      const key = await new DataKeysRepository(client, this.crypto.keyring).create('organisation');
      await client.query(
        `INSERT INTO organisations (id, name_ciphertext, address_ciphertext, data_key_id, region,
           tenant_key)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [
          id,
          key.seal(organisationField(id, 'name'), name),
          key.sealOptional(organisationField(id, 'address'), options.address),
          key.id,
          region,
          tenantKey,
        ],
      );
      return { id, name, address: options.address ?? null, region, tenantKey };
    });
  }

  /**
   * How many organisations the user owns, serialised per user until the caller's transaction
   * ends: parallel creations then count one after the other, so none can pass a limit together.
   */
  async lockOwnedCount(userId: string): Promise<number> {
    await this.db.query('SELECT pg_advisory_xact_lock(hashtextextended($1::text, 7))', [
      `orgs-owned:${userId}`,
    ]);
    const { rows } = await this.db.query<{ owned: number }>(
      "SELECT count(*)::int AS owned FROM memberships WHERE user_id = $1 AND role = 'owner'",
      [userId],
    );
    return rows[0]!.owned;
  }

  /** The organisation, or null when it does not exist or its key has been shredded. */
  async find(orgId: string): Promise<Organisation | null> {
    const { rows } = await this.db.query<OrganisationRow>(
      `SELECT id, name_ciphertext, address_ciphertext, data_key_id, region, tenant_key
       FROM organisations WHERE id = $1`,
      [orgId],
    );
    const row = rows[0];
    const key = row ? await this.keys.loadOne(row.data_key_id) : null;
    if (!row || !key) return null;
    return {
      id: row.id,
      name: key.open(organisationField(row.id, 'name'), row.name_ciphertext),
      address: key.openOptional(organisationField(row.id, 'address'), row.address_ciphertext),
      region: row.region,
      tenantKey: row.tenant_key,
    };
  }

  /**
   * Adds a member; false, changing nothing, when they are one already. Roles change only through
   * MembersService.changeRole, under the owner rules.
   */
  async addMember(orgId: string, userId: string, role: Role): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, $3)
       ON CONFLICT (org_id, user_id) DO NOTHING`,
      [orgId, userId, role],
    );
    return rowCount === 1;
  }

  /** The caller's role and the tenant pseudonym, or null when the user is not a member. */
  async membership(
    orgId: string,
    userId: string,
  ): Promise<{ role: Role; tenantKey: string } | null> {
    const { rows } = await this.db.query<{ role: Role; tenant_key: string }>(
      `SELECT m.role, o.tenant_key FROM memberships m JOIN organisations o ON o.id = m.org_id
       WHERE m.org_id = $1 AND m.user_id = $2`,
      [orgId, userId],
    );
    const row = rows[0];
    return row ? { role: row.role, tenantKey: row.tenant_key } : null;
  }
}
