import type pg from 'pg';

export interface OidcLogin {
  provider: string;
  nonce: string;
  codeVerifier: string;
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
      `INSERT INTO oidc_logins (state_hash, provider, nonce, code_verifier, expires_at)
       VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))`,
      [stateHash, login.provider, login.nonce, login.codeVerifier, ttlSeconds],
    );
  }

  async take(stateHash: Buffer): Promise<OidcLogin | null> {
    const { rows } = await this.pool.query<{
      provider: string;
      nonce: string;
      code_verifier: string;
      live: boolean;
    }>(
      `DELETE FROM oidc_logins WHERE state_hash = $1
       RETURNING provider, nonce, code_verifier, expires_at > now() AS live`,
      [stateHash],
    );
    const row = rows[0];
    return row?.live
      ? { provider: row.provider, nonce: row.nonce, codeVerifier: row.code_verifier }
      : null;
  }
}
