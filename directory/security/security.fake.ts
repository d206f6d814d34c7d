import { randomUUID } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import type { PlatformRole, PlatformRolesRepository } from './platform-roles.repository.js';
import type {
  AttemptSubject,
  FailureCount,
  FailureCounts,
  NewSecurityEvent,
  SecurityEvent,
  SecurityEventType,
  SecurityEventsRepository,
} from './security-events.repository.js';

interface StoredEvent {
  id: string;
  type: SecurityEventType;
  accountKey: Buffer | null;
  userId: string | null;
  ip: string | null;
  createdAt: number;
  seq: number;
}

/** The security log (P10) in memory, with the counts sign-in throttling reads. */
export class FakeSecurityEvents implements Pick<
  SecurityEventsRepository,
  keyof SecurityEventsRepository
> {
  private readonly events: StoredEvent[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  record(event: NewSecurityEvent): Promise<void> {
    this.events.push({
      id: randomUUID(),
      type: event.type,
      accountKey: event.accountKey ? Buffer.from(event.accountKey) : null,
      userId: event.userId ?? null,
      ip: event.ip ?? null,
      createdAt: this.now(),
      seq: this.events.length,
    });
    return Promise.resolve();
  }

  failureCounts(subject: AttemptSubject, windowMs: number): Promise<FailureCounts> {
    const now = this.now();
    const recent = this.events.filter((e) => e.createdAt > now - windowMs && e.createdAt <= now);
    const onAccount = (e: StoredEvent) => e.accountKey?.equals(subject.accountKey) === true;
    const fromNetwork = (e: StoredEvent) =>
      subject.ip === undefined
        ? e.ip === null
        : e.ip !== null && inNetwork(e.ip, subject.ip, subject.prefixLength);
    const pairSuccess = Math.max(
      -Infinity,
      ...recent
        .filter((e) => e.type === 'signin_succeeded' && onAccount(e) && fromNetwork(e))
        .map((e) => e.createdAt),
    );
    const failures = recent.filter((e) => e.type === 'signin_failed');
    const count = (counted: StoredEvent[]): FailureCount =>
      counted.length === 0
        ? { failures: 0, sinceLastMs: null }
        : {
            failures: counted.length,
            sinceLastMs: now - Math.max(...counted.map((e) => e.createdAt)),
          };
    return Promise.resolve({
      pair: count(
        failures.filter((e) => onAccount(e) && fromNetwork(e) && e.createdAt >= pairSuccess),
      ),
      account: count(failures.filter(onAccount)),
      network: count(failures.filter(fromNetwork)),
    });
  }

  list(options: {
    limit: number;
    before?: Date;
    type?: SecurityEventType;
  }): Promise<SecurityEvent[]> {
    return Promise.resolve(
      this.events
        .filter(
          (e) =>
            (!options.before || e.createdAt < options.before.getTime()) &&
            (!options.type || e.type === options.type),
        )
        .sort((a, b) => b.createdAt - a.createdAt || b.seq - a.seq)
        .slice(0, options.limit)
        .map((e) => ({
          id: e.id,
          type: e.type,
          accountKey: e.accountKey ? e.accountKey.toString('hex') : null,
          userId: e.userId,
          ip: e.ip,
          createdAt: new Date(e.createdAt),
        })),
    );
  }
}

/** Platform roles, granted by an operator (here: the test) and only read by the API. */
export class FakePlatformRoles implements Pick<
  PlatformRolesRepository,
  keyof PlatformRolesRepository
> {
  private readonly granted = new Set<string>();

  grant(userId: string, role: PlatformRole): void {
    this.granted.add(`${userId}/${role}`);
  }

  has(userId: string, role: PlatformRole): Promise<boolean> {
    return Promise.resolve(this.granted.has(`${userId}/${role}`));
  }
}

/** The address as bytes (4 for IPv4, 16 for IPv6), or null when it is none. */
export function ipBytes(ip: string): number[] | null {
  if (isIPv4(ip)) return ip.split('.').map(Number);
  if (!isIPv6(ip)) return null;
  const [head = '', tail = ''] = ip.includes('::') ? ip.split('::') : [ip, ''];
  const part = (text: string) => (text ? text.split(':') : []);
  let groups = [...part(head)];
  let rest = part(tail);
  // An embedded IPv4 tail (::ffff:192.0.2.1) is two groups.
  const embed = (list: string[]) => {
    const last = list.at(-1);
    if (!last || !isIPv4(last)) return list;
    const [a, b, c, d] = last.split('.').map(Number) as [number, number, number, number];
    return [...list.slice(0, -1), ((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
  };
  if (ip.includes('::')) rest = embed(rest);
  else groups = embed(groups);
  const zeros = Array<string>(8 - groups.length - rest.length).fill('0');
  return [...groups, ...zeros, ...rest].flatMap((g) => {
    const n = parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
}

/** Whether `ip` lies in the network of `base` with `prefixLength` leading bits. */
function inNetwork(ip: string, base: string, prefixLength: number): boolean {
  const a = ipBytes(ip);
  const b = ipBytes(base);
  if (!a || !b || a.length !== b.length) return false;
  for (let bit = 0; bit < prefixLength; bit++) {
    const mask = 0x80 >> (bit % 8);
    if ((a[bit >> 3]! & mask) !== (b[bit >> 3]! & mask)) return false;
  }
  return true;
}
