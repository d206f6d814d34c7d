import { describe, expect, it } from 'vitest';
import { userAgentFamily } from '../../api/http/client-info.js';
import {
  accountKeyOf,
  delayAfter,
  SignInThrottle,
  type FailureCounts,
} from '../../directory/sessions/sign-in-throttle.service.js';

const policy = {
  windowMs: 900_000,
  freeAttemptsPerAccount: 5,
  freeAttemptsPerNetwork: 20,
  baseDelayMs: 1000,
  maxDelayMs: 30_000,
};

describe('P10: sign-in throttling', () => {
  it('P10: costs nothing for the first failures, then doubles up to a ceiling, never forever', () => {
    const delays = [0, 4, 5, 6, 7, 8, 9, 10, 50, 10_000].map((n) => delayAfter(n, 5, policy));
    expect(delays).toEqual([0, 0, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('P10: waits for the stricter of the account and the network, counted from the last failure', async () => {
    const counts = (account: number, network: number, sinceLastMs: number): FailureCounts => ({
      accountFailures: () => Promise.resolve({ failures: account, sinceLastMs }),
      networkFailures: () => Promise.resolve({ failures: network, sinceLastMs }),
    });
    const key = Buffer.alloc(32);
    expect(await new SignInThrottle(counts(4, 19, 0), policy).retryAfterMs(key, '10.0.0.1')).toBe(
      0,
    );
    expect(await new SignInThrottle(counts(6, 0, 500), policy).retryAfterMs(key, '10.0.0.1')).toBe(
      1500,
    );
    expect(await new SignInThrottle(counts(0, 22, 0), policy).retryAfterMs(key, '10.0.0.1')).toBe(
      4000,
    );
    expect(await new SignInThrottle(counts(6, 0, 5000), policy).retryAfterMs(key, undefined)).toBe(
      0,
    );
  });

  it('P10: serialises attempts on one account, so a parallel burst cannot pass the check at once', async () => {
    const throttle = new SignInThrottle(
      {
        accountFailures: () => Promise.resolve({ failures: 0, sinceLastMs: null }),
        networkFailures: () => Promise.resolve({ failures: 0, sinceLastMs: null }),
      },
      policy,
    );
    const key = accountKeyOf('a@example.test', 'k'.repeat(32));
    let running = 0;
    let most = 0;
    const attempt = async () => {
      running += 1;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, 5));
      running -= 1;
    };
    await Promise.all(Array.from({ length: 10 }, () => throttle.serialised(key, attempt)));
    expect(most).toBe(1);
    // A failing attempt does not block the next one.
    await expect(throttle.serialised(key, () => Promise.reject(new Error('x')))).rejects.toThrow();
    await expect(throttle.serialised(key, () => Promise.resolve(7))).resolves.toBe(7);
  });

  it('P10: names an account by a keyed hash of its normalised address, never the address', () => {
    const key = 'k'.repeat(32);
    const a = accountKeyOf(' Ada@Example.TEST ', key);
    expect(a).toEqual(accountKeyOf('ada@example.test', key));
    expect(a).not.toEqual(accountKeyOf('ada@example.test', 'x'.repeat(32)));
    expect(a.toString('hex')).not.toContain(Buffer.from('ada').toString('hex'));
    expect(a).toHaveLength(32);
  });

  it('P1: keeps only a coarse browser family of the User-Agent', () => {
    expect(
      userAgentFamily(
        'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0',
      ),
    ).toBe('Edge on Windows');
    expect(
      userAgentFamily(
        'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
      ),
    ).toBe('Safari on iOS');
    expect(
      userAgentFamily('Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'),
    ).toBe('Firefox on Linux');
    expect(
      userAgentFamily(
        'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36',
      ),
    ).toBe('Chrome on Android');
    expect(userAgentFamily('curl/8.5.0')).toBe('curl on an unknown system');
    expect(userAgentFamily(undefined)).toBe('a program on an unknown system');
    expect(userAgentFamily('x'.repeat(5000)).length).toBeLessThanOrEqual(64);
  });
});
