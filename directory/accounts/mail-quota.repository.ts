import type { Queryable } from '../db/transaction.js';

/** The e-mails anyone can make the platform send to an address by typing it. */
export type QuotaPurpose = 'signup' | 'password_reset';

/**
 * How many requested e-mails an address receives per hour (P5, P10): without a bound, anyone
 * could make Telemoat flood a mailbox by signing up with it or asking for its password reset
 * again and again. Rows name the address by its blind index only.
 */
export class MailQuotaRepository {
  constructor(
    private readonly db: Queryable,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Takes one e-mail of the quota if fewer than `perHour` went to the address for this
   * purpose in the last hour; whether it may be sent. Serialised per address within the
   * caller's transaction, so parallel requests cannot all pass the count.
   */
  async take(addressIndex: Buffer, purpose: QuotaPurpose, perHour: number): Promise<boolean> {
    const now = new Date(this.now());
    await this.db.query('SELECT pg_advisory_xact_lock(hashtextextended($1::text, 7))', [
      `mail-quota:${addressIndex.toString('hex')}`,
    ]);
    const { rows } = await this.db.query<{ sent: number }>(
      `SELECT count(*)::int AS sent FROM mail_quota
       WHERE address_index = $1 AND purpose = $2 AND sent_at > $3::timestamptz - interval '1 hour'`,
      [addressIndex, purpose, now],
    );
    if (rows[0]!.sent >= perHour) return false;
    await this.db.query(
      'INSERT INTO mail_quota (address_index, purpose, sent_at) VALUES ($1, $2, $3)',
      [addressIndex, purpose, now],
    );
    return true;
  }
}
