import { hashOneTimeToken, newOneTimeToken } from '../crypto/one-time-token.js';
import type { Queryable } from '../db/transaction.js';
import type { Role } from './roles.js';

export interface Invitation {
  orgId: string;
  userId: string;
  role: Role;
  /** The member who invited, or null for an operator's `create-org`. */
  invitedBy: string | null;
}

/** An invitation not yet accepted, revoked or expired, as its organisation's admins see it. */
export interface PendingInvitationRow {
  id: string;
  userId: string;
  role: Role;
  invitedBy: string | null;
  createdAt: Date;
  expiresAt: Date;
  /** The creation time as Postgres prints it, to the microsecond: where a page after it starts. */
  position: string;
}

/** Where a page of invitations ends: the next page starts after this creation time and id. */
export interface InvitationPosition {
  createdAt: string;
  id: string;
}

/** An organisation's invitations (P6); single-use and expiring (P7). */
export class InvitationsRepository {
  constructor(private readonly db: Queryable) {}

  async create(
    invitation: Invitation & { ttlSeconds: number },
  ): Promise<{ id: string; token: string; expiresAt: Date }> {
    const { token, hash } = newOneTimeToken();
    const { rows } = await this.db.query<{ id: string; expires_at: Date }>(
      `INSERT INTO invitations (token_hash, org_id, user_id, role, invited_by, expires_at)
       VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6)) RETURNING id, expires_at`,
      [
        hash,
        invitation.orgId,
        invitation.userId,
        invitation.role,
        invitation.invitedBy,
        invitation.ttlSeconds,
      ],
    );
    return { id: rows[0]!.id, token, expiresAt: rows[0]!.expires_at };
  }

  /** Deletes the invitation and returns it if it had not expired (see email verifications). */
  async consume(token: string): Promise<Invitation | null> {
    const { rows } = await this.db.query<{
      org_id: string;
      user_id: string;
      role: Role;
      invited_by: string | null;
      live: boolean;
    }>(
      `DELETE FROM invitations WHERE token_hash = $1
       RETURNING org_id, user_id, role, invited_by, expires_at > now() AS live`,
      [hashOneTimeToken(token)],
    );
    const row = rows[0];
    return row?.live
      ? { orgId: row.org_id, userId: row.user_id, role: row.role, invitedBy: row.invited_by }
      : null;
  }

  /** One page of the organisation's pending invitations, oldest first. */
  async pending(
    orgId: string,
    page: { limit: number; after?: InvitationPosition },
  ): Promise<PendingInvitationRow[]> {
    const { rows } = await this.db.query<{
      id: string;
      user_id: string;
      role: Role;
      invited_by: string | null;
      created_at: Date;
      expires_at: Date;
      position: string;
    }>(
      `SELECT id, user_id, role, invited_by, created_at, expires_at, created_at::text AS position
       FROM invitations
       WHERE org_id = $1 AND expires_at > now()
         AND ($3::timestamptz IS NULL OR (created_at, id) > ($3::timestamptz, $4::uuid))
       ORDER BY created_at, id LIMIT $2`,
      [orgId, page.limit, page.after?.createdAt ?? null, page.after?.id ?? null],
    );
    return rows.map((r) => ({
      id: r.id,
      userId: r.user_id,
      role: r.role,
      invitedBy: r.invited_by,
      createdAt: r.created_at,
      expiresAt: r.expires_at,
      position: r.position,
    }));
  }

  /**
   * Deletes one of the organisation's pending invitations and returns what it was, or null when
   * there is none by that id (another organisation's, accepted, revoked or expired).
   */
  async revoke(orgId: string, id: string): Promise<Invitation | null> {
    const { rows } = await this.db.query<{
      user_id: string;
      role: Role;
      invited_by: string | null;
    }>(
      `DELETE FROM invitations WHERE org_id = $1 AND id = $2 AND expires_at > now()
       RETURNING user_id, role, invited_by`,
      [orgId, id],
    );
    const row = rows[0];
    return row ? { orgId, userId: row.user_id, role: row.role, invitedBy: row.invited_by } : null;
  }
}
