import type { Request } from 'express';
import { AppError, type ErrorCode } from '../../common/errors.js';
import type { Logger } from '../../common/logger.js';
import { hasRole, type Role } from '../../directory/organisations/roles.js';
import { clientIp } from '../http/client-info.js';

/** The defaults of the API's STREAM_RECHECK_MS, LIVE_STREAMS_PER_USER and LIVE_STREAMS_PER_IP. */
export const STREAM_LIMIT_DEFAULTS = { recheckMs: 5000, perUser: 10, perIp: 50 };

export interface StreamLimits {
  /** How often every open stream's token, session and membership are checked again. */
  recheckMs: number;
  /** Open live streams one user may hold, over all their sessions. */
  perUser: number;
  /** Open live streams one client address may hold, whoever signed in. */
  perIp: number;
}

export interface StreamGuardDeps {
  /** TokenService: signature and expiry at the API's clock, and the session still live (P9). */
  tokens: { verify(token: string): Promise<{ userId: string; sessionId: string } | null> };
  organisations: {
    membership(orgId: string, userId: string): Promise<{ role: Role } | null>;
  };
  logger: Logger;
  limits?: Partial<StreamLimits>;
  now?: () => number;
}

/** Who holds a stream and what it reads: everything a re-check needs. */
export interface StreamHolder {
  /** The bearer access token the stream was opened with. */
  token: string;
  userId: string;
  ip: string;
  orgId: string;
  /** The role the route needs; a member demoted below it loses the stream. */
  minRole: Role;
  /** Live streams count against the caps; downloads end by themselves and do not. */
  capped: boolean;
}

/**
 * The holder of a stream a route is opening: requireUser has verified the request's bearer
 * token, so the header is known to be `Bearer <token>`.
 */
export function holderOf(
  req: Request,
  userId: string,
  stream: { orgId: string; minRole: Role; capped: boolean },
): StreamHolder {
  const token = (req.header('authorization') ?? '').slice('Bearer '.length);
  return { token, userId, ip: clientIp(req) ?? 'unknown', ...stream };
}

interface OpenStream extends StreamHolder {
  revoke(code: ErrorCode): void;
  /** Rounds in a row whose checks failed (a store down) rather than answered. */
  failedRounds: number;
}

/** What a client capped out is told to wait: streams free up only as others close. */
const CAPPED_RETRY_AFTER_SECONDS = 5;
/**
 * While the directory cannot answer, a stream is neither confirmed nor refused; after this many
 * rounds without an answer it ends, so an outage cannot keep an ended session's stream open.
 */
const MAX_FAILED_ROUNDS = 3;
/** Lookups of one round in flight at once: the API's pool has ten connections for requests. */
const CHECKS_IN_FLIGHT = 4;
/**
 * Whether a round is due is decided on the API's clock, looked at this often: tests move their
 * clock instead of waiting, and a deployment's rounds start at most this late.
 */
const TICK_MS = 250;

/**
 * Keeps long-lived answers (live streams, exports) as authorised as a request: a stream is
 * authorised when it opens, and re-checked every `recheckMs` until it closes. One timer serves
 * every stream, and each round asks the directory once per distinct access token and once per
 * distinct membership, however many streams share them. A stream whose token no longer
 * verifies (expired, logged out, session revoked, account gone) or whose holder is no longer a
 * member with the role it needs is revoked with the code a new request would get.
 */
export class StreamGuard {
  private readonly streams = new Set<OpenStream>();
  private readonly perUser = new Map<string, number>();
  private readonly perIp = new Map<string, number>();
  private readonly limits: StreamLimits;
  private readonly now: () => number;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private lastRound = 0;
  private roundRunning = false;

  constructor(private readonly deps: StreamGuardDeps) {
    this.limits = { ...STREAM_LIMIT_DEFAULTS, ...deps.limits };
    this.now = deps.now ?? Date.now;
    this.log = deps.logger.child({ module: 'stream-guard' });
  }

  /** Streams open now, for tests. */
  get openCount(): number {
    return this.streams.size;
  }

  /**
   * Admits a stream, or throws RATE_LIMITED when its holder or address is at a cap. `revoke`
   * is called at most once, when a re-check fails. Returns the release, to call when the stream
   * closes for any reason; calling it again does nothing.
   */
  admit(holder: StreamHolder, revoke: (code: ErrorCode) => void): () => void {
    if (
      holder.capped &&
      ((this.perUser.get(holder.userId) ?? 0) >= this.limits.perUser ||
        (this.perIp.get(holder.ip) ?? 0) >= this.limits.perIp)
    ) {
      throw new AppError('RATE_LIMITED', { retryAfterSeconds: CAPPED_RETRY_AFTER_SECONDS });
    }
    const stream: OpenStream = { ...holder, revoke, failedRounds: 0 };
    this.streams.add(stream);
    if (holder.capped) {
      bump(this.perUser, holder.userId, 1);
      bump(this.perIp, holder.ip, 1);
    }
    this.startTimer();
    return () => this.release(stream);
  }

  private release(stream: OpenStream): void {
    if (!this.streams.delete(stream)) return;
    if (stream.capped) {
      bump(this.perUser, stream.userId, -1);
      bump(this.perIp, stream.ip, -1);
    }
    if (this.streams.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private startTimer(): void {
    if (this.timer) return;
    this.lastRound = this.now();
    this.timer = setInterval(
      () => {
        if (this.roundRunning || this.now() - this.lastRound < this.limits.recheckMs) return;
        this.lastRound = this.now();
        this.roundRunning = true;
        this.round()
          .catch((err: unknown) => this.log.error({ err }, 'stream re-check failed'))
          .finally(() => {
            this.roundRunning = false;
          });
      },
      Math.min(TICK_MS, this.limits.recheckMs),
    );
    // Open streams keep the server alive, never this timer.
    this.timer.unref();
  }

  /** Checks every open stream, each distinct token and membership once. */
  private async round(): Promise<void> {
    const streams = [...this.streams];
    const tokens = new Map<string, boolean | Error>();
    const memberships = new Map<string, Role | null | Error>();
    await inBatches([...new Set(streams.map((s) => s.token))], async (token) => {
      tokens.set(token, await settle(this.deps.tokens.verify(token).then((c) => c !== null)));
    });
    const members = new Map(streams.map((s) => [membershipKey(s), s]));
    await inBatches([...members], async ([key, s]) => {
      const found = await settle(this.deps.organisations.membership(s.orgId, s.userId));
      memberships.set(key, found instanceof Error ? found : (found?.role ?? null));
    });

    for (const stream of streams) {
      if (!this.streams.has(stream)) continue;
      const verdict = verdictOf(
        tokens.get(stream.token),
        memberships.get(membershipKey(stream)),
        stream.minRole,
      );
      if (verdict === 'allowed') {
        stream.failedRounds = 0;
        continue;
      }
      if (verdict === 'unanswered' && ++stream.failedRounds < MAX_FAILED_ROUNDS) continue;
      this.release(stream);
      stream.revoke(verdict === 'unanswered' ? 'SERVICE_UNAVAILABLE' : verdict);
    }
  }
}

/** A refusal is the code a new request would get; a lookup that failed decides nothing. */
function verdictOf(
  valid: boolean | Error | undefined,
  role: Role | null | Error | undefined,
  minRole: Role,
): ErrorCode | 'allowed' | 'unanswered' {
  if (valid === false) return 'UNAUTHENTICATED';
  if (role === null) return 'NOT_FOUND';
  if (valid !== true || role === undefined || role instanceof Error) return 'unanswered';
  return hasRole(role, minRole) ? 'allowed' : 'FORBIDDEN';
}

function membershipKey(stream: StreamHolder): string {
  return `${stream.orgId}|${stream.userId}`;
}

function bump(counts: Map<string, number>, key: string, by: number): void {
  const next = (counts.get(key) ?? 0) + by;
  if (next > 0) counts.set(key, next);
  else counts.delete(key);
}

/** The value, or the error it failed with: one lookup failing must not decide the others. */
function settle<T>(work: Promise<T>): Promise<T | Error> {
  return work.catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));
}

/** Runs `work` over `items`, at most CHECKS_IN_FLIGHT at a time. */
async function inBatches<T>(items: T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(CHECKS_IN_FLIGHT, items.length) }, worker));
}
