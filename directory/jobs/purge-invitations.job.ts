import type pg from 'pg';
import { transaction } from '../db/transaction.js';

export interface InvitationPurge {
  /** Accounts nobody verified whose every link has expired, deleted with what is attached. */
  accounts: number;
  /** Their data keys (crypto-shredding whatever copy of their values may remain). */
  dataKeys: number;
  /** Expired invitations and e-mail verification links. */
  invitations: number;
  verifications: number;
}

/**
 * P7: an account created by an invitation that nobody accepted before the link expired
 * (INVITATION_TTL_DAYS) is deleted, with everything attached to it: memberships, invitations,
 * verification links, registration record and audit rows about it go with the row (foreign
 * keys cascade), and its data key is deleted too. A sign-up whose verification link expired
 * unused (P5) is removed the same way. Accounts created by an operator (origin `admin`) are
 * left alone.
 *
 * Connects as `telemoat_jobs`, which sees ids and timestamps only (P21).
 */
export async function purgeUnacceptedInvitations(pool: pg.Pool): Promise<InvitationPurge> {
  return transaction(pool, async (client) => {
    const accounts = await client.query<{ data_key_id: string | null }>(
      `DELETE FROM users u
       WHERE u.email_verified_at IS NULL
         AND u.origin IN ('invitation', 'signup')
         AND NOT EXISTS (SELECT 1 FROM invitations i WHERE i.user_id = u.id AND i.expires_at > now())
         AND NOT EXISTS (
           SELECT 1 FROM email_verifications v WHERE v.user_id = u.id AND v.expires_at > now())
       RETURNING u.data_key_id`,
    );
    const keyIds = accounts.rows.flatMap((r) => (r.data_key_id ? [r.data_key_id] : []));
    const dataKeys = await client.query('DELETE FROM data_keys WHERE id = ANY($1::uuid[])', [
      keyIds,
    ]);
    const invitations = await client.query('DELETE FROM invitations WHERE expires_at <= now()');
    const verifications = await client.query(
      'DELETE FROM email_verifications WHERE expires_at <= now()',
    );
    return {
      accounts: accounts.rowCount ?? 0,
      dataKeys: dataKeys.rowCount ?? 0,
      invitations: invitations.rowCount ?? 0,
      verifications: verifications.rowCount ?? 0,
    };
  });
}
