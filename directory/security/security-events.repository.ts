import type pg from 'pg';

/** What the security log records (P10); the API's filter offers the same list. */
export const securityEventTypes = [
  'signin_failed',
  'signin_throttled',
  'signin_succeeded',
  'refresh_token_reused',
  'oidc_failed',
] as const;

export type SecurityEventType = (typeof securityEventTypes)[number];

export interface NewSecurityEvent {
  type: SecurityEventType;
  /** Keyed hash of the e-mail address the attempt named; never the address. */
  accountKey?: Buffer;
  userId?: string;
  ip?: string;
}

export interface SecurityEvent {
  id: string;
  type: SecurityEventType;
  accountKey: string | null;
  userId: string | null;
  ip: string | null;
  createdAt: Date;
}

/** Failures counted for one subject (an account or an address) within the window. */
export interface FailureCount {
  failures: number;
  /** Milliseconds since the latest counted failure, by the database's clock; null if none. */
  sinceLastMs: number | null;
}

interface EventRow {
  id: string;
  type: SecurityEventType;
  account_key: Buffer | null;
  user_id: string | null;
  ip: string | null;
  created_at: Date;
}

interface CountRow {
  failures: number;
  since_last_ms: number | null;
}

const toCount = (row: CountRow | undefined): FailureCount => ({
  failures: row?.failures ?? 0,
  sinceLastMs: row?.since_last_ms ?? null,
});

/**
 * Connection data for security analysis (P10): failed, throttled and successful sign-ins with
 * the address they came from. The API may only add and read events; the retention job
 * deletes them (see `purgeSecurityRecords`).
 */
export class SecurityEventsRepository {
  constructor(private readonly pool: pg.Pool) {}

  async record(event: NewSecurityEvent): Promise<void> {
    await this.pool.query(
      'INSERT INTO security_events (type, account_key, user_id, ip) VALUES ($1, $2, $3, $4)',
      [event.type, event.accountKey ?? null, event.userId ?? null, event.ip ?? null],
    );
  }

  /**
   * Failed sign-ins naming this account within the window, counted from its latest successful
   * sign-in: a success resets the account's count.
   */
  async accountFailures(accountKey: Buffer, windowMs: number): Promise<FailureCount> {
    const { rows } = await this.pool.query<CountRow>(
      `SELECT count(*)::int AS failures,
              (extract(epoch FROM now() - max(created_at)) * 1000)::float8 AS since_last_ms
       FROM security_events
       WHERE account_key = $1 AND type = 'signin_failed'
         AND created_at > now() - make_interval(secs => $2::float8 / 1000)
         AND created_at > coalesce(
           (SELECT max(created_at) FROM security_events
            WHERE account_key = $1 AND type = 'signin_succeeded'),
           '-infinity')`,
      [accountKey, windowMs],
    );
    return toCount(rows[0]);
  }

  /**
   * Failed sign-ins from this network within the window. `prefixLength` groups addresses
   * (an IPv6 attacker usually holds a whole /64). Successes do not reset it: an attacker could
   * otherwise sign in to an account of their own between guesses.
   */
  async networkFailures(ip: string, prefixLength: number, windowMs: number): Promise<FailureCount> {
    const { rows } = await this.pool.query<CountRow>(
      `SELECT count(*)::int AS failures,
              (extract(epoch FROM now() - max(created_at)) * 1000)::float8 AS since_last_ms
       FROM security_events
       WHERE ip <<= set_masklen($1::inet, $2::int) AND type = 'signin_failed'
         AND created_at > now() - make_interval(secs => $3::float8 / 1000)`,
      [ip, prefixLength, windowMs],
    );
    return toCount(rows[0]);
  }

  /** Newest first; `before` pages back in time. */
  async list(options: {
    limit: number;
    before?: Date;
    type?: SecurityEventType;
  }): Promise<SecurityEvent[]> {
    const { rows } = await this.pool.query<EventRow>(
      `SELECT id, type, account_key, user_id, host(ip) AS ip, created_at FROM security_events
       WHERE ($1::timestamptz IS NULL OR created_at < $1) AND ($2::text IS NULL OR type = $2)
       ORDER BY created_at DESC, id LIMIT $3`,
      [options.before ?? null, options.type ?? null, options.limit],
    );
    return rows.map((r) => ({
      id: r.id,
      type: r.type,
      accountKey: r.account_key ? r.account_key.toString('hex') : null,
      userId: r.user_id,
      ip: r.ip,
      createdAt: r.created_at,
    }));
  }
}
