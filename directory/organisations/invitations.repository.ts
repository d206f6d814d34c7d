import { hashOneTimeToken, newOneTimeToken } from '../crypto/one-time-token.js';
import type { Queryable } from '../db/transaction.js';
import type { Role } from './roles.js';

export interface Invitation {
  orgId: string;
  userId: string;
  role: Role;
  invitedBy: string | null;
}

/** An organisation's invitations (P6); single-use and expiring (P7). */
export class InvitationsRepository {
  constructor(private readonly db: Queryable) {}

  async create(
    invitation: Invitation & { ttlSeconds: number },
  ): Promise<{ token: string; expiresAt: Date }> {
    const { token, hash } = newOneTimeToken();
    const { rows } = await this.db.query<{ expires_at: Date }>(
      `INSERT INTO invitations (token_hash, org_id, user_id, role, invited_by, expires_at)
       VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6)) RETURNING expires_at`,
      [
        hash,
        invitation.orgId,
        invitation.userId,
        invitation.role,
        invitation.invitedBy,
        invitation.ttlSeconds,
      ],
    );
    return { token, expiresAt: rows[0]!.expires_at };
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
}
