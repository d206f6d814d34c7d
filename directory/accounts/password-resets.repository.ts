import { hashOneTimeToken, newOneTimeToken } from '../crypto/one-time-token.js';
import type { Queryable } from '../db/transaction.js';

/**
 * Password reset links: single-use, expiring, and stored only as the SHA-256 of their random
 * token, so a copy of the database cannot reset anyone's password.
 */
export class PasswordResetsRepository {
  constructor(private readonly db: Queryable) {}

  async create(userId: string, ttlSeconds: number): Promise<string> {
    const { token, hash } = newOneTimeToken();
    await this.db.query(
      `INSERT INTO password_resets (token_hash, user_id, expires_at)
       VALUES ($1, $2, now() + make_interval(secs => $3))`,
      [hash, userId, ttlSeconds],
    );
    return token;
  }

  /**
   * Uses a link up: every link of its account is deleted, whatever their state, and the
   * account is returned only when this one had not expired. Run inside the transaction that
   * sets the password, so a failure leaves the link usable.
   */
  async consume(token: string): Promise<string | null> {
    const { rows } = await this.db.query<{ user_id: string; live: boolean }>(
      `SELECT user_id, expires_at > now() AS live FROM password_resets WHERE token_hash = $1`,
      [hashOneTimeToken(token)],
    );
    const row = rows[0];
    if (!row) return null;
    await this.db.query('DELETE FROM password_resets WHERE user_id = $1', [row.user_id]);
    return row.live ? row.user_id : null;
  }
}
