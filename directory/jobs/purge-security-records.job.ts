import type { Queryable } from '../db/transaction.js';

export interface SecurityRetention {
  /** Days security events (with their IP addresses) are kept (P10); default 30. */
  securityEventsDays?: number;
  /** Days a user's sign-in history is kept (P11); default 365. */
  signInHistoryDays?: number;
  /** Days an ended session stays listed before its row is deleted; default 7. */
  endedSessionsDays?: number;
}

export interface PurgeCounts {
  securityEvents: number;
  signIns: number;
  sessions: number;
  refreshTokens: number;
  oidcLogins: number;
}

/**
 * The retention job for sign-in data: deletes security events older than their retention
 * (P10), old sign-in history (P11), sessions that ended a while ago with their refresh tokens,
 * spent refresh tokens and abandoned OpenID Connect attempts. Give it a pool or client that
 * connects as `telemoat_jobs`, which may see these tables' timestamps and delete, nothing else.
 */
export async function purgeSecurityRecords(
  db: Queryable,
  retention: SecurityRetention = {},
): Promise<PurgeCounts> {
  const securityDays = retention.securityEventsDays ?? 30;
  const signInDays = retention.signInHistoryDays ?? 365;
  const endedDays = retention.endedSessionsDays ?? 7;
  const days = (value: number) => [value] as const;
  const count = async (sql: string, params: readonly unknown[]) =>
    (await db.query(sql, [...params])).rowCount ?? 0;
  return {
    securityEvents: await count(
      'DELETE FROM security_events WHERE created_at < now() - make_interval(days => $1)',
      days(securityDays),
    ),
    signIns: await count(
      'DELETE FROM sign_ins WHERE created_at < now() - make_interval(days => $1)',
      days(signInDays),
    ),
    sessions: await count(
      `DELETE FROM sessions
       WHERE least(revoked_at, expires_at) < now() - make_interval(days => $1)`,
      days(endedDays),
    ),
    refreshTokens: await count('DELETE FROM refresh_tokens WHERE expires_at < now()', []),
    oidcLogins: await count('DELETE FROM oidc_logins WHERE expires_at < now()', []),
  };
}
