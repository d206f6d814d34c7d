import type { DirectoryCrypto } from '../crypto/crypto.config.js';
import type { DataKey } from '../crypto/data-key.js';
import { DataKeysRepository } from '../crypto/data-keys.repository.js';
import { hashOneTimeToken, newOneTimeToken } from '../crypto/one-time-token.js';
import { pendingEmailField } from '../crypto/sealed-fields.js';
import type { Queryable } from '../db/transaction.js';

export type VerificationPurpose = 'signup' | 'email_change';

export interface ConsumedVerification {
  userId: string;
  purpose: VerificationPurpose;
  /** For an e-mail change: the address to move to. */
  newEmail: string | null;
}

/** Single-use, expiring links that prove control of an e-mail address (P5, P16). */
export class EmailVerificationsRepository {
  constructor(
    private readonly db: Queryable,
    private readonly crypto: DirectoryCrypto,
  ) {}

  /**
   * A new sign-up link. Earlier ones keep working: they all went to the same mailbox, and
   * otherwise anyone could keep invalidating the owner's link by signing up again.
   */
  async createSignup(userId: string, ttlSeconds: number): Promise<string> {
    const { token, hash } = newOneTimeToken();
    await this.db.query(
      `INSERT INTO email_verifications (token_hash, user_id, purpose, expires_at)
       VALUES ($1, $2, 'signup', now() + make_interval(secs => $3))`,
      [hash, userId, ttlSeconds],
    );
    return token;
  }

  /** A link that moves the account to `newEmail`; earlier change links stop working. */
  async createEmailChange(
    userId: string,
    userKey: DataKey,
    newEmail: string,
    ttlSeconds: number,
  ): Promise<string> {
    await this.db.query(
      "DELETE FROM email_verifications WHERE user_id = $1 AND purpose = 'email_change'",
      [userId],
    );
    const { token, hash } = newOneTimeToken();
    await this.db.query(
      `INSERT INTO email_verifications
         (token_hash, user_id, purpose, new_email_ciphertext, new_email_index, expires_at)
       VALUES ($1, $2, 'email_change', $3, $4, now() + make_interval(secs => $5))`,
      [
        hash,
        userId,
        userKey.seal(pendingEmailField(hash.toString('hex')), newEmail.trim()),
        this.crypto.blindIndex.email(newEmail),
        ttlSeconds,
      ],
    );
    return token;
  }

  /**
   * Uses a link up: the row is deleted whatever its state, and returned only when it had not
   * expired. Run inside the transaction that acts on it, so a failure leaves the link usable.
   */
  async consume(token: string, purpose: VerificationPurpose): Promise<ConsumedVerification | null> {
    const hash = hashOneTimeToken(token);
    const { rows } = await this.db.query<{
      user_id: string;
      purpose: VerificationPurpose;
      new_email_ciphertext: Buffer | null;
      data_key_id: string | null;
      live: boolean;
    }>(
      `DELETE FROM email_verifications v USING users u
       WHERE v.token_hash = $1 AND v.purpose = $2 AND u.id = v.user_id
       RETURNING v.user_id, v.purpose, v.new_email_ciphertext, u.data_key_id,
         v.expires_at > now() AS live`,
      [hash, purpose],
    );
    const row = rows[0];
    if (!row?.live) return null;
    let newEmail: string | null = null;
    if (row.new_email_ciphertext) {
      const key = await new DataKeysRepository(this.db, this.crypto.keyring).loadOne(
        row.data_key_id,
      );
      if (!key) return null;
      newEmail = key.open(pendingEmailField(hash.toString('hex')), row.new_email_ciphertext);
    }
    return { userId: row.user_id, purpose: row.purpose, newEmail };
  }

  /** Every link of this purpose of the account stops working (the sign-up is complete). */
  async deleteAll(userId: string, purpose: VerificationPurpose): Promise<void> {
    await this.db.query('DELETE FROM email_verifications WHERE user_id = $1 AND purpose = $2', [
      userId,
      purpose,
    ]);
  }
}
