import type pg from 'pg';
import { newPseudonym } from '../common/ids.js';
import type { Role } from './users.repository.js';

export interface Organisation {
  id: string;
  name: string;
  tenantKey: string;
}

export class OrganisationsRepository {
  constructor(private readonly pool: pg.Pool) {}

  async create(name: string): Promise<Organisation> {
    const { rows } = await this.pool.query<{ id: string; tenant_key: string }>(
      'INSERT INTO organisations (name, tenant_key) VALUES ($1, $2) RETURNING id, tenant_key',
      [name, newPseudonym()],
    );
    return { id: rows[0]!.id, name, tenantKey: rows[0]!.tenant_key };
  }

  async findByName(name: string): Promise<Organisation | null> {
    const { rows } = await this.pool.query<{ id: string; name: string; tenant_key: string }>(
      'SELECT id, name, tenant_key FROM organisations WHERE name = $1 ORDER BY created_at LIMIT 1',
      [name],
    );
    const row = rows[0];
    return row ? { id: row.id, name: row.name, tenantKey: row.tenant_key } : null;
  }

  async addMember(orgId: string, userId: string, role: Role): Promise<void> {
    await this.pool.query(
      `INSERT INTO memberships (org_id, user_id, role) VALUES ($1, $2, $3)
       ON CONFLICT (org_id, user_id) DO UPDATE SET role = EXCLUDED.role`,
      [orgId, userId, role],
    );
  }

  /** The caller's role and the tenant pseudonym, or null when the user is not a member. */
  async membership(
    orgId: string,
    userId: string,
  ): Promise<{ role: Role; tenantKey: string } | null> {
    const { rows } = await this.pool.query<{ role: Role; tenant_key: string }>(
      `SELECT m.role, o.tenant_key FROM memberships m JOIN organisations o ON o.id = m.org_id
       WHERE m.org_id = $1 AND m.user_id = $2`,
      [orgId, userId],
    );
    const row = rows[0];
    return row ? { role: row.role, tenantKey: row.tenant_key } : null;
  }
}
