import type { Queryable } from '../db/transaction.js';

/** What happened to an account; `details` carries field names, ids and roles, never values. */
export type AuditAction =
  | 'account.created'
  | 'email.verified'
  | 'email.change_requested'
  | 'email.changed'
  | 'profile.updated'
  | 'password.changed'
  | 'password.reset'
  | 'invitation.created'
  | 'invitation.accepted'
  // Recorded on the invitee's history, with the owner or admin who revoked it (P6, P11).
  | 'invitation.revoked'
  | 'organisation.created'
  // Changes an organisation admin made, recorded on the admin's own history (issue 5).
  | 'device.created'
  | 'device.renamed'
  | 'device.secret_rotated'
  | 'device.disabled'
  | 'device.enabled'
  | 'device.deleted'
  | 'metric.described'
  // Recorded on the member's history (P6, P11); an erased account's own rows go with it, so its
  // erasure is recorded on the admin's history, without the erased account's id (P17).
  | 'membership.role_changed'
  | 'membership.removed'
  | 'member_account.deleted';

export type AuditDetails = Record<string, string | number | boolean | string[]>;

export interface AuditEntry {
  action: AuditAction;
  at: Date;
  /** Who made the change: the user themself, another user, or nobody left (null). */
  actorUserId: string | null;
  details: AuditDetails;
}

/**
 * The audit history of changes made on a user's behalf (P11, P16). The API may append and
 * read, not rewrite; rows about a user are deleted with the user.
 */
export class AuditLogRepository {
  constructor(private readonly db: Queryable) {}

  async record(entry: {
    userId: string;
    actorUserId: string | null;
    action: AuditAction;
    details?: AuditDetails;
  }): Promise<void> {
    await this.db.query(
      'INSERT INTO audit_log (user_id, actor_user_id, action, details) VALUES ($1, $2, $3, $4)',
      [entry.userId, entry.actorUserId, entry.action, JSON.stringify(entry.details ?? {})],
    );
  }

  /** Newest first. */
  async listForUser(userId: string, limit: number): Promise<AuditEntry[]> {
    const { rows } = await this.db.query<{
      action: AuditAction;
      at: Date;
      actor_user_id: string | null;
      details: AuditDetails;
    }>(
      `SELECT action, at, actor_user_id, details FROM audit_log WHERE user_id = $1
       ORDER BY at DESC, id LIMIT $2`,
      [userId, limit],
    );
    return rows.map((r) => ({
      action: r.action,
      at: r.at,
      actorUserId: r.actor_user_id,
      details: r.details,
    }));
  }
}
