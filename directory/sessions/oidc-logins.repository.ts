import type pg from 'pg';

export interface OidcLogin {
  provider: string;
  nonce: string;
  codeVerifier: string;
  /** The signed-in user who asked to link the provider; absent for a sign-in. */
  linkUserId?: string;
}

/**
 * OpenID Connect sign-ins in progress (P8). The browser holds the state; this table holds the
 * nonce and PKCE verifier under the state's SHA-256. `take` consumes a row, so each state can
 * complete one sign-in at most.
 */
export class OidcLoginsRepository {
  constructor(private readonly pool: pg.Pool) {}

  async save(stateHash: Buffer, login: OidcLogin, ttlSeconds: number): Promise<void> {
    // Abandoned attempts are cleared as new ones start; the retention job catches the rest.
    await this.pool.query('DELETE FROM oidc_logins WHERE expires_at < now()');
    await this.pool.query(
      `INSERT INTO oidc_logins
         (state_hash, provider, nonce, code_verifier, link_user_id, expires_at)
       VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))`,
      [
        stateHash,
        login.provider,
        login.nonce,
        login.codeVerifier,
        login.linkUserId ?? null,
        ttlSeconds,
      ],
    );
  }

  async take(stateHash: Buffer): Promise<OidcLogin | null> {
    const { rows } = await this.pool.query<{
      provider: string;
      nonce: string;
      code_verifier: string;
      link_user_id: string | null;
      live: boolean;
    }>(
      `DELETE FROM oidc_logins WHERE state_hash = $1
       RETURNING provider, nonce, code_verifier, link_user_id, expires_at > now() AS live`,
      [stateHash],
    );
    const row = rows[0];
    if (!row?.live) return null;
    return {
      provider: row.provider,
      nonce: row.nonce,
      codeVerifier: row.code_verifier,
      ...(row.link_user_id ? { linkUserId: row.link_user_id } : {}),
    };
  }
}
