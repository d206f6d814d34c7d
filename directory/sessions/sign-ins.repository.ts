import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { FieldPlace } from '../crypto/data-key.js';
import type { SignInMethod } from './sessions.repository.js';
import { openWith, sealWith, type UserKeys } from '../crypto/user-data-keys.repository.js';

export interface SignIn {
  method: SignInMethod;
  /** A coarse browser family; null if it cannot be opened. */
  userAgent: string | null;
  /** The network the sign-in came from (/24 or /48), never the full address. */
  network: string | null;
  createdAt: Date;
}

const place = (id: string, column: 'user_agent' | 'network'): FieldPlace => ({
  table: 'sign_ins',
  column,
  rowId: id,
});

/**
 * The user's own sign-in history (P11): when and how, and, sealed with the user's data key
 * (P12), the browser family and the network the sign-in came from.
 */
export class SignInsRepository {
  constructor(
    private readonly pool: pg.Pool,
    private readonly keys: UserKeys,
  ) {}

  async record(input: {
    userId: string;
    method: SignInMethod;
    userAgent: string;
    /** The full address; only its network (/24 for IPv4, /48 for IPv6) is kept. */
    ip: string | undefined;
  }): Promise<void> {
    const id = randomUUID();
    const [key, network] = await Promise.all([
      this.keys.forUser(input.userId),
      this.networkOf(input.ip),
    ]);
    await this.pool.query(
      `INSERT INTO sign_ins (id, user_id, method, user_agent_ciphertext, network_ciphertext)
       VALUES ($1, $2, $3, $4, $5)`,
      [
        id,
        input.userId,
        input.method,
        sealWith(key, place(id, 'user_agent'), input.userAgent),
        network === null ? null : sealWith(key, place(id, 'network'), network),
      ],
    );
  }

  /** Only ever the given user's rows, newest first. */
  async listForUser(userId: string, limit: number): Promise<SignIn[]> {
    const { rows } = await this.pool.query<{
      id: string;
      method: SignInMethod;
      user_agent_ciphertext: Buffer | null;
      network_ciphertext: Buffer | null;
      created_at: Date;
    }>(
      `SELECT id, method, user_agent_ciphertext, network_ciphertext, created_at FROM sign_ins
       WHERE user_id = $1 ORDER BY created_at DESC, id LIMIT $2`,
      [userId, limit],
    );
    const key = rows.length > 0 ? await this.keys.forUser(userId) : null;
    return rows.map((r) => ({
      method: r.method,
      userAgent: openWith(key, place(r.id, 'user_agent'), r.user_agent_ciphertext),
      network: openWith(key, place(r.id, 'network'), r.network_ciphertext),
      createdAt: r.created_at,
    }));
  }

  /** Postgres's own address arithmetic: 192.0.2.77 → 192.0.2.0/24, 2001:db8:1:2::5 → /48. */
  private async networkOf(ip: string | undefined): Promise<string | null> {
    if (!ip) return null;
    const { rows } = await this.pool.query<{ network: string }>(
      `SELECT network(set_masklen($1::inet, CASE family($1::inet) WHEN 4 THEN 24 ELSE 48 END))::text
         AS network`,
      [ip],
    );
    return rows[0]?.network ?? null;
  }
}
