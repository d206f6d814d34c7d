import { describe, expect, it } from 'vitest';
import { addressKey, createConnectThrottle } from '../../broker/connect-throttle.js';
import { testClock } from '../support/clock.js';

describe('connect throttle', () => {
  it('throttles an address after its allowance of failures and lets it in again as they drain', () => {
    const clock = testClock(0);
    const throttle = createConnectThrottle({ failuresPerMinute: 6, now: clock.now });
    for (let i = 0; i < 5; i++) throttle.charge('192.0.2.1');
    expect(throttle.throttled('192.0.2.1')).toBe(false);
    throttle.charge('192.0.2.1');
    expect(throttle.throttled('192.0.2.1')).toBe(true);
    expect(throttle.throttled('192.0.2.2')).toBe(false);
    // Six per minute: one drains every ten seconds.
    clock.advance(9_999);
    expect(throttle.throttled('192.0.2.1')).toBe(true);
    clock.advance(1);
    expect(throttle.throttled('192.0.2.1')).toBe(false);
  });

  it('counts an IPv6 /64 as one client, and an IPv4-mapped address as its IPv4 address', () => {
    const throttle = createConnectThrottle({ failuresPerMinute: 2, now: () => 0 });
    throttle.charge('2001:db8:1:2::a');
    throttle.charge('2001:0db8:0001:0002:ffff:ffff:ffff:ffff');
    expect(throttle.throttled('2001:db8:1:2:3:4:5:6')).toBe(true);
    expect(throttle.throttled('2001:db8:1:3::a')).toBe(false);
    throttle.charge('::ffff:192.0.2.9');
    throttle.charge('192.0.2.9');
    expect(throttle.throttled('192.0.2.9')).toBe(true);
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1')).toBe('fe80:0:0:0::/64');
    expect(addressKey('2001:db8::')).toBe('2001:db8:0:0::/64');
  });

  it('remembers at most maxAddresses, forgetting the one charged longest ago', () => {
    const throttle = createConnectThrottle({
      failuresPerMinute: 1,
      maxAddresses: 100,
      now: () => 0,
    });
    for (let i = 0; i < 1000; i++) throttle.charge(`10.0.${i >> 8}.${i & 255}`);
    expect(throttle.size()).toBe(100);
    expect(throttle.throttled('10.0.3.231')).toBe(true);
    expect(throttle.throttled('10.0.0.0')).toBe(false);
  });
});
