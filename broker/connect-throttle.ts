import { isIPv4, isIPv6 } from 'node:net';

export interface ConnectThrottleOptions {
  /** CONNECTs the directory may refuse per address per minute; also how many may come at once. */
  failuresPerMinute: number;
  /** Addresses remembered at most; past it, the one charged longest ago is forgotten. */
  maxAddresses?: number;
  now?: () => number;
}

interface Level {
  failures: number;
  at: number;
}

/**
 * Failed sign-ins per client address, as a leaky bucket: each CONNECT the directory refused
 * adds one, and the level drains at `failuresPerMinute`. An address at the limit is throttled
 * until it has drained below it. Only failures count, so a gateway with a whole fleet behind one
 * address never fills it by reconnecting; and the broker does not ask whether a throttled
 * address may connect a device it already knows (see DeviceAuthenticator), so an attacker
 * sharing that address cannot lock the fleet out.
 *
 * The map is bounded: an attacker who rotates through more addresses than it holds only makes
 * it forget the oldest, and the bound on directory lookups in flight still holds.
 */
export function createConnectThrottle(options: ConnectThrottleOptions) {
  const now = options.now ?? Date.now;
  const limit = options.failuresPerMinute;
  const drainPerMs = limit / 60_000;
  const maxAddresses = options.maxAddresses ?? 50_000;
  const levels = new Map<string, Level>();

  const levelOf = (entry: Level | undefined, at: number) =>
    entry ? Math.max(0, entry.failures - (at - entry.at) * drainPerMs) : 0;

  return {
    /** Whether one more failure from `address` would go over the limit. */
    throttled(address: string): boolean {
      return levelOf(levels.get(addressKey(address)), now()) + 1 > limit;
    },

    /** Counts a CONNECT from `address` that the directory refused. */
    charge(address: string): void {
      const key = addressKey(address);
      const at = now();
      const failures = levelOf(levels.get(key), at) + 1;
      // Re-inserting keeps the map in the order addresses were last charged.
      levels.delete(key);
      levels.set(key, { failures, at });
      if (levels.size > maxAddresses) {
        const oldest = levels.keys().next();
        if (!oldest.done) levels.delete(oldest.value);
      }
    },

    /** Addresses remembered now. */
    size: () => levels.size,
  };
}

export type ConnectThrottle = ReturnType<typeof createConnectThrottle>;

/**
 * What one client is: an IPv4 address, or the /64 of an IPv6 address, which is the block a
 * single subscriber usually holds (counting each of its 2^64 addresses apart would count nothing).
 */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped !== undefined || isIPv4(address)) return mapped ?? address;
  if (!isIPv6(address)) return address;
  const [head = '', tail] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const zeros = Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0');
  const groups = tail === undefined ? left : [...left, ...zeros, ...right];
  return `${groups
    .slice(0, 4)
    .map((group) => parseInt(group, 16).toString(16))
    .join(':')}::/64`;
}
