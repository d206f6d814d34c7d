import type pg from 'pg';

/** Roles over the whole platform rather than one organisation. */
export type PlatformRole = 'security';

/**
 * Read-only for the API: a platform role is granted by an operator with the admin database
 * role, never through the API itself.
 */
export class PlatformRolesRepository {
  constructor(private readonly pool: pg.Pool) {}

  async has(userId: string, role: PlatformRole): Promise<boolean> {
    const { rows } = await this.pool.query<{ found: boolean }>(
      'SELECT EXISTS (SELECT 1 FROM platform_roles WHERE user_id = $1 AND role = $2) AS found',
      [userId, role],
    );
    return rows[0]?.found === true;
  }
}
