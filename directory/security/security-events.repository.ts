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

/** Failures counted for one subject (an account, an address, or both) within the window. */
export interface FailureCount {
  failures: number;
  /** Milliseconds since the latest counted failure, by the log's clock; null if none. */
  sinceLastMs: number | null;
}

/** Who a sign-in attempt concerns: the account it names and the network it came from. */
export interface AttemptSubject {
  accountKey: Buffer;
  /** Undefined when the peer's address is unknown; such attempts count as one network. */
  ip: string | undefined;
  /** How many leading bits of `ip` name the network (32 for IPv4, 64 for IPv6). */
  prefixLength: number;
}

/** The three counts sign-in throttling weighs (P10; docs/auth.md). */
export interface FailureCounts {
  /** This account from this network, since the latest success from there. */
  pair: FailureCount;
  /** This account from anywhere; successes do not reset it. */
  account: FailureCount;
  /** Any account from this network; successes do not reset it. */
  network: FailureCount;
}

interface EventRow {
  id: string;
  type: SecurityEventType;
  account_key: Buffer | null;
  user_id: string | null;
  ip: string | null;
  created_at: Date;
}

type CountsRow = Record<`${keyof FailureCounts}_failures`, number> &
  Record<`${keyof FailureCounts}_last`, Date | null>;

/**
 * Connection data for security analysis (P10): failed, throttled and successful sign-ins with
 * the address they came from. The API may only add and read events; the retention job
 * deletes them (see `purgeSecurityRecords`).
 */
export class SecurityEventsRepository {
  /** `now` is the log's clock: events are stamped and windows measured with it. */
  constructor(
    private readonly pool: pg.Pool,
    private readonly now: () => number = Date.now,
  ) {}

  async record(event: NewSecurityEvent): Promise<void> {
    await this.pool.query(
      `INSERT INTO security_events (type, account_key, user_id, ip, created_at)
       VALUES ($1, $2, $3, $4, $5)`,
      [
        event.type,
        event.accountKey ?? null,
        event.userId ?? null,
        event.ip ?? null,
        new Date(this.now()),
      ],
    );
  }

  /**
   * Failed sign-ins within the window, counted three ways in one pass over the events that
   * name the account or come from the network. A failure at the very instant of a success
   * still counts: when the order is unknown, it errs toward slowing.
   */
  async failureCounts(subject: AttemptSubject, windowMs: number): Promise<FailureCounts> {
    const now = this.now();
    const { rows } = await this.pool.query<CountsRow>(
      `WITH recent AS (
         SELECT type, created_at,
                coalesce(account_key = $1, false) AS on_account,
                CASE WHEN $2::inet IS NULL THEN ip IS NULL
                     ELSE coalesce(ip <<= set_masklen($2::inet, $3::int), false) END AS from_network
         FROM security_events
         WHERE type IN ('signin_failed', 'signin_succeeded')
           AND created_at > $4::timestamptz - make_interval(secs => $5::float8 / 1000)
           AND created_at <= $4::timestamptz
           AND (account_key = $1 OR ip <<= set_masklen($2::inet, $3::int)
                OR ($2::inet IS NULL AND ip IS NULL))
       ), failures AS (
         SELECT created_at, on_account, from_network,
                on_account AND from_network AND created_at >= coalesce(
                  (SELECT max(created_at) FROM recent
                   WHERE type = 'signin_succeeded' AND on_account AND from_network),
                  '-infinity') AS in_pair
         FROM recent WHERE type = 'signin_failed'
       )
       SELECT
         count(*) FILTER (WHERE in_pair)::int AS pair_failures,
         max(created_at) FILTER (WHERE in_pair) AS pair_last,
         count(*) FILTER (WHERE on_account)::int AS account_failures,
         max(created_at) FILTER (WHERE on_account) AS account_last,
         count(*) FILTER (WHERE from_network)::int AS network_failures,
         max(created_at) FILTER (WHERE from_network) AS network_last
       FROM failures`,
      [subject.accountKey, subject.ip ?? null, subject.prefixLength, new Date(now), windowMs],
    );
    const row = rows[0]!;
    const count = (c: keyof FailureCounts): FailureCount => {
      const last = row[`${c}_last`];
      return { failures: row[`${c}_failures`], sinceLastMs: last ? now - last.getTime() : null };
    };
    return { pair: count('pair'), account: count('account'), network: count('network') };
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
