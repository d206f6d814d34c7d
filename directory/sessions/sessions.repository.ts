import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { FieldPlace } from '../crypto/data-key.js';
import { transaction } from '../db/transaction.js';
import { openWith, sealWith, type UserKeys } from '../crypto/user-data-keys.repository.js';

export type SignInMethod = 'password' | 'oidc';
export type RevokeReason = 'logout' | 'logout-all' | 'user' | 'reuse' | 'password';

export interface SessionRecord {
  id: string;
  userId: string;
  method: SignInMethod;
  /** A coarse browser family such as 'Firefox on Linux'; null if it cannot be opened. */
  userAgent: string | null;
  createdAt: Date;
  lastUsedAt: Date;
  expiresAt: Date;
}

export interface NewSession {
  userId: string;
  method: SignInMethod;
  userAgent: string;
  expiresAt: Date;
  /** SHA-256 of the first refresh token of the session's family. */
  refreshTokenHash: Buffer;
  refreshExpiresAt: Date;
}

/**
 * The outcome of exchanging a refresh token: `rotated` hands out the next token of the family;
 * `reused` means the token had been exchanged before, so the whole family (the session) has
 * just been revoked; `invalid` covers unknown, expired and revoked alike.
 */
export type RotateResult =
  | { kind: 'rotated'; sessionId: string; userId: string }
  | { kind: 'reused'; sessionId: string; userId: string }
  | { kind: 'invalid' };

interface SessionRow {
  id: string;
  user_id: string;
  method: SignInMethod;
  user_agent_ciphertext: Buffer | null;
  created_at: Date;
  last_used_at: Date;
  expires_at: Date;
}

const userAgentPlace = (sessionId: string): FieldPlace => ({
  table: 'sessions',
  column: 'user_agent',
  rowId: sessionId,
});

/** `last_used_at` is written at most this often per session, not on every request. */
const TOUCH_EVERY = '1 minute';

/**
 * Sessions (P9) and their refresh tokens. A session is the family of its refresh tokens:
 * every token carries the session id, only its SHA-256 is stored, and each may be exchanged
 * once. An access token is honoured only while `isActive` says its session is. The browser
 * family is sealed with the user's data key (P12).
 */
export class SessionsRepository {
  constructor(
    private readonly pool: pg.Pool,
    private readonly keys: UserKeys,
  ) {}

  async create(input: NewSession): Promise<string> {
    const sessionId = randomUUID();
    const key = await this.keys.forUser(input.userId);
    const userAgent = sealWith(key, userAgentPlace(sessionId), input.userAgent);
    return transaction(this.pool, async (client) => {
      await client.query(
        `INSERT INTO sessions (id, user_id, method, user_agent_ciphertext, expires_at)
         VALUES ($1, $2, $3, $4, $5)`,
        [sessionId, input.userId, input.method, userAgent, input.expiresAt],
      );
      await client.query(
        `INSERT INTO refresh_tokens (token_hash, session_id, expires_at)
         VALUES ($1, $2, least($3::timestamptz, $4::timestamptz))`,
        [input.refreshTokenHash, sessionId, input.refreshExpiresAt, input.expiresAt],
      );
      return sessionId;
    });
  }

  /**
   * Exchanges a refresh token for the next one of its family, atomically: the session row is
   * locked, so two exchanges of one token cannot both succeed.
   */
  async rotate(oldHash: Buffer, newHash: Buffer, newExpiresAt: Date): Promise<RotateResult> {
    return transaction(this.pool, async (client) => {
      const { rows } = await client.query<{
        session_id: string;
        user_id: string;
        used: boolean;
        fresh: boolean;
        active: boolean;
      }>(
        `SELECT t.session_id, s.user_id, t.used_at IS NOT NULL AS used,
                t.expires_at > now() AS fresh,
                s.revoked_at IS NULL AND s.expires_at > now() AS active
         FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
         WHERE t.token_hash = $1
         FOR UPDATE OF s, t`,
        [oldHash],
      );
      const row = rows[0];
      if (!row) return { kind: 'invalid' };
      if (row.used) {
        // Someone holds a token that was already exchanged: the thief or the owner, we cannot
        // tell which, so the whole family ends.
        await client.query(
          `UPDATE sessions SET revoked_at = now(), revoked_reason = 'reuse'
           WHERE id = $1 AND revoked_at IS NULL`,
          [row.session_id],
        );
        return { kind: 'reused', sessionId: row.session_id, userId: row.user_id };
      }
      if (!row.active || !row.fresh) return { kind: 'invalid' };
      await client.query('UPDATE refresh_tokens SET used_at = now() WHERE token_hash = $1', [
        oldHash,
      ]);
      await client.query(
        `INSERT INTO refresh_tokens (token_hash, session_id, expires_at)
         SELECT $1, id, least($2::timestamptz, expires_at) FROM sessions WHERE id = $3`,
        [newHash, newExpiresAt, row.session_id],
      );
      await client.query('UPDATE sessions SET last_used_at = now() WHERE id = $1', [
        row.session_id,
      ]);
      return { kind: 'rotated', sessionId: row.session_id, userId: row.user_id };
    });
  }

  /**
   * One primary-key lookup per authenticated request: is this session of this user still
   * live? Notes the use at most once a minute in the same statement.
   */
  async isActive(sessionId: string, userId: string): Promise<boolean> {
    const { rows } = await this.pool.query<{ active: boolean }>(
      `WITH live AS (
         SELECT id, last_used_at FROM sessions
         WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > now()
       ), touched AS (
         UPDATE sessions SET last_used_at = now()
         WHERE id IN (SELECT id FROM live WHERE last_used_at < now() - interval '${TOUCH_EVERY}')
       )
       SELECT EXISTS (SELECT 1 FROM live) AS active`,
      [sessionId, userId],
    );
    return rows[0]?.active === true;
  }

  /** The live session a refresh token belongs to (used or not), for logout by cookie. */
  async sessionOfRefreshToken(hash: Buffer): Promise<{ sessionId: string; userId: string } | null> {
    const { rows } = await this.pool.query<{ id: string; user_id: string }>(
      `SELECT s.id, s.user_id FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
       WHERE t.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now()`,
      [hash],
    );
    const row = rows[0];
    return row ? { sessionId: row.id, userId: row.user_id } : null;
  }

  /** Ends one session of a user at once; false when it was not theirs or already over. */
  async revoke(sessionId: string, userId: string, reason: RevokeReason): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `UPDATE sessions SET revoked_at = now(), revoked_reason = $3
       WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > now()`,
      [sessionId, userId, reason],
    );
    return rowCount === 1;
  }

  /** Ends every session of a user at once, but `except`; returns how many were live. */
  async revokeAll(userId: string, reason: RevokeReason, except?: string): Promise<number> {
    const { rowCount } = await this.pool.query(
      `UPDATE sessions SET revoked_at = now(), revoked_reason = $2
       WHERE user_id = $1 AND revoked_at IS NULL AND id IS DISTINCT FROM $3::uuid`,
      [userId, reason, except ?? null],
    );
    return rowCount ?? 0;
  }

  async listActive(userId: string): Promise<SessionRecord[]> {
    const { rows } = await this.pool.query<SessionRow>(
      `SELECT id, user_id, method, user_agent_ciphertext, created_at, last_used_at, expires_at
       FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()
       ORDER BY last_used_at DESC, id`,
      [userId],
    );
    const key = rows.length > 0 ? await this.keys.forUser(userId) : null;
    return rows.map((r) => ({
      id: r.id,
      userId: r.user_id,
      method: r.method,
      userAgent: openWith(key, userAgentPlace(r.id), r.user_agent_ciphertext),
      createdAt: r.created_at,
      lastUsedAt: r.last_used_at,
      expiresAt: r.expires_at,
    }));
  }
}
