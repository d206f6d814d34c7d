import type { Queryable } from '../db/transaction.js';
import type { Role } from './roles.js';

export interface MemberRow {
  userId: string;
  role: Role;
  joinedAt: Date;
  /** The join time as Postgres prints it, to the microsecond: where a page after it starts. */
  position: string;
}

/** Where a page of members ends: the next page starts after this join time and user id. */
export interface MemberPosition {
  joinedAt: string;
  userId: string;
}

/**
 * How Postgres prints a timestamptz: the only times a cursor may carry (members' join times,
 * invitations' creation times).
 */
export const printedTimePattern =
  /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?[+-]\d{2}(:\d{2}){0,2}$/;

/** An organisation's memberships. Who the members are lives sealed in `users`. */
export class MembersRepository {
  constructor(private readonly db: Queryable) {}

  /** One page by join time, then user id (names are sealed, so the database cannot sort them). */
  async page(orgId: string, page: { limit: number; after?: MemberPosition }): Promise<MemberRow[]> {
    const { rows } = await this.db.query<{
      user_id: string;
      role: Role;
      created_at: Date;
      position: string;
    }>(
      `SELECT user_id, role, created_at, created_at::text AS position FROM memberships
       WHERE org_id = $1
         AND ($3::timestamptz IS NULL OR (created_at, user_id) > ($3::timestamptz, $4::uuid))
       ORDER BY created_at, user_id LIMIT $2`,
      [orgId, page.limit, page.after?.joinedAt ?? null, page.after?.userId ?? null],
    );
    return rows.map((r) => ({
      userId: r.user_id,
      role: r.role,
      joinedAt: r.created_at,
      position: r.position,
    }));
  }

  /**
   * Every membership of the organisation, locked until the transaction ends: role changes and
   * removals are serialised per organisation, so two of them cannot both take the last owner.
   */
  async lockAll(orgId: string): Promise<Map<string, Role>> {
    const { rows } = await this.db.query<{ user_id: string; role: Role }>(
      'SELECT user_id, role FROM memberships WHERE org_id = $1 FOR UPDATE',
      [orgId],
    );
    return new Map(rows.map((r) => [r.user_id, r.role]));
  }

  async setRole(orgId: string, userId: string, role: Role): Promise<void> {
    await this.db.query('UPDATE memberships SET role = $3 WHERE org_id = $1 AND user_id = $2', [
      orgId,
      userId,
      role,
    ]);
  }

  async remove(orgId: string, userId: string): Promise<void> {
    await this.db.query('DELETE FROM memberships WHERE org_id = $1 AND user_id = $2', [
      orgId,
      userId,
    ]);
  }

  /**
   * Deletes an account `orgId` created by invitation and shreds its data key, through the
   * database function that checks the rules again (migration 004). False when one forbids it.
   */
  async eraseInvitedAccount(orgId: string, userId: string): Promise<boolean> {
    const { rows } = await this.db.query<{ erased: boolean }>(
      'SELECT erase_invited_account($1, $2) AS erased',
      [userId, orgId],
    );
    return rows[0]?.erased === true;
  }

  /** Which of `userIds` the organisation's invitation created (their accounts it may delete). */
  async createdBy(orgId: string, userIds: readonly string[]): Promise<Set<string>> {
    const { rows } = await this.db.query<{ id: string }>(
      `SELECT id FROM users WHERE id = ANY($2::uuid[]) AND created_by_org_id = $1
         AND origin = 'invitation'`,
      [orgId, [...userIds]],
    );
    return new Set(rows.map((r) => r.id));
  }
}
