import { createHmac } from 'node:crypto';
import type pg from 'pg';
import { KEY_BYTES } from '../crypto/field-cipher.js';

/** What `link` did: linked (or already was), or why not. */
export type LinkOutcome = 'linked' | 'linked-to-another-account' | 'account-has-another-identity';

export interface LinkedIdentity {
  issuer: string;
  linkedAt: Date;
}

/**
 * Identities at OpenID Connect providers, each linked to one account by that account's holder
 * (P8). The provider's subject is stored only as a keyed HMAC: enough to find the link, not to
 * tell anyone outside which person at the provider it is.
 */
export class OidcIdentitiesRepository {
  constructor(
    private readonly pool: pg.Pool,
    private readonly indexKey: Buffer,
  ) {
    if (indexKey.length !== KEY_BYTES) throw new Error(`index key must be ${KEY_BYTES} bytes`);
  }

  /** The prefix keeps these values apart from the e-mail blind index under the same key. */
  private subjectIndex(issuer: string, subject: string): Buffer {
    return createHmac('sha256', this.indexKey)
      .update(`oidc-subject:${JSON.stringify([issuer, subject])}`)
      .digest();
  }

  async userOf(issuer: string, subject: string): Promise<string | null> {
    const { rows } = await this.pool.query<{ user_id: string }>(
      'SELECT user_id FROM oidc_identities WHERE issuer = $1 AND subject_index = $2',
      [issuer, this.subjectIndex(issuer, subject)],
    );
    return rows[0]?.user_id ?? null;
  }

  async link(userId: string, issuer: string, subject: string): Promise<LinkOutcome> {
    const index = this.subjectIndex(issuer, subject);
    // Both unique constraints decide at once, so two accounts racing for one identity cannot
    // both win.
    const inserted = await this.pool.query(
      `INSERT INTO oidc_identities (issuer, subject_index, user_id) VALUES ($1, $2, $3)
       ON CONFLICT DO NOTHING`,
      [issuer, index, userId],
    );
    if (inserted.rowCount === 1) return 'linked';
    const owner = await this.userOf(issuer, subject);
    if (owner === userId) return 'linked';
    return owner === null ? 'account-has-another-identity' : 'linked-to-another-account';
  }

  /** True when there was a link to remove. */
  async unlink(userId: string, issuer: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      'DELETE FROM oidc_identities WHERE user_id = $1 AND issuer = $2',
      [userId, issuer],
    );
    return rowCount === 1;
  }

  async listForUser(userId: string): Promise<LinkedIdentity[]> {
    const { rows } = await this.pool.query<{ issuer: string; linked_at: Date }>(
      'SELECT issuer, linked_at FROM oidc_identities WHERE user_id = $1 ORDER BY linked_at',
      [userId],
    );
    return rows.map((r) => ({ issuer: r.issuer, linkedAt: r.linked_at }));
  }
}
