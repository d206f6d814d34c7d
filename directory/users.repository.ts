import type pg from 'pg';

export type Role = 'owner' | 'admin' | 'member' | 'viewer';

export interface UserRecord {
  id: string;
  email: string;
  displayName: string;
  passwordHash: string | null;
  verified: boolean;
}

export interface Membership {
  orgId: string;
  orgName: string;
  role: Role;
}

export class UsersRepository {
  constructor(private readonly pool: pg.Pool) {}

  async create(input: {
    email: string;
    displayName: string;
    passwordHash: string;
    verified: boolean;
  }): Promise<string> {
    const { rows } = await this.pool.query<{ id: string }>(
      `INSERT INTO users (email, display_name, password_hash, email_verified_at)
       VALUES ($1, $2, $3, CASE WHEN $4::boolean THEN now() END) RETURNING id`,
      [input.email, input.displayName, input.passwordHash, input.verified],
    );
    return rows[0]!.id;
  }

  async findByEmail(email: string): Promise<UserRecord | null> {
    const { rows } = await this.pool.query<{
      id: string;
      email: string;
      display_name: string;
      password_hash: string | null;
      verified: boolean;
    }>(
      `SELECT id, email, display_name, password_hash, email_verified_at IS NOT NULL AS verified
       FROM users WHERE lower(email) = lower($1)`,
      [email],
    );
    const row = rows[0];
    return row
      ? {
          id: row.id,
          email: row.email,
          displayName: row.display_name,
          passwordHash: row.password_hash,
          verified: row.verified,
        }
      : null;
  }

  async memberships(userId: string): Promise<Membership[]> {
    const { rows } = await this.pool.query<{ org_id: string; name: string; role: Role }>(
      `SELECT m.org_id, o.name, m.role FROM memberships m JOIN organisations o ON o.id = m.org_id
       WHERE m.user_id = $1 ORDER BY o.name`,
      [userId],
    );
    return rows.map((r) => ({ orgId: r.org_id, orgName: r.name, role: r.role }));
  }
}
