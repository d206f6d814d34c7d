import { describe, expect, it } from 'vitest';
import { userAgentFamily } from '../../api/http/client-info.js';
import {
  accountKeyOf,
  delayAfter,
  SignInThrottle,
  type FailureCountsSource,
} from '../../directory/sessions/sign-in-throttle.service.js';
import {
  KNOWN_BROWSER_TTL_SECONDS,
  KnownBrowsers,
} from '../../directory/sessions/known-browser.js';
import { testClock } from '../support/clock.js';
import type { FailureCount } from '../../directory/security/security-events.repository.js';
import { defaultThrottlePolicy } from '../support/throttle-policy.js';

const policy = defaultThrottlePolicy;

describe('P10: sign-in throttling', () => {
  it('P10: costs nothing for the first failures, then doubles up to a ceiling, never forever', () => {
    const delays = [0, 4, 5, 6, 7, 8, 9, 10, 50, 10_000].map((n) => delayAfter(n, 5, policy));
    expect(delays).toEqual([0, 0, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('P10: waits for the strictest of the pair, the network and (for unknown browsers) the account, counted from the last failure', async () => {
    const none: FailureCount = { failures: 0, sinceLastMs: null };
    const counts = (
      given: Partial<Record<'pair' | 'account' | 'network', number>>,
      sinceLastMs: number,
    ): FailureCountsSource => ({
      failureCounts: () =>
        Promise.resolve({
          pair: given.pair === undefined ? none : { failures: given.pair, sinceLastMs },
          account: given.account === undefined ? none : { failures: given.account, sinceLastMs },
          network: given.network === undefined ? none : { failures: given.network, sinceLastMs },
        }),
    });
    const key = Buffer.alloc(32);
    const wait = (source: FailureCountsSource, knownBrowser = false) =>
      new SignInThrottle(source, policy).retryAfterMs(key, '10.0.0.1', knownBrowser);
    expect(await wait(counts({ pair: 4, account: 49, network: 19 }, 0))).toBe(0);
    expect(await wait(counts({ pair: 6 }, 500))).toBe(1500);
    expect(await wait(counts({ network: 22 }, 0))).toBe(4000);
    expect(await wait(counts({ pair: 6 }, 5000))).toBe(0);
    // Failures spread over many networks slow the account, but not in a browser it knows.
    expect(await wait(counts({ pair: 1, account: 51 }, 0))).toBe(2000);
    expect(await wait(counts({ pair: 1, account: 51 }, 0), true)).toBe(0);
    expect(await wait(counts({ pair: 6, account: 51 }, 0), true)).toBe(2000);
  });

  it('P10: serialises attempts on one account, so a parallel burst cannot pass the check at once', async () => {
    const throttle = new SignInThrottle(
      {
        failureCounts: () => {
          const none = { failures: 0, sinceLastMs: null };
          return Promise.resolve({ pair: none, account: none, network: none });
        },
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

  it('P10: a known-browser proof names one account, cannot be forged or altered, and expires', () => {
    const clock = testClock(Date.UTC(2026, 0, 1));
    const browsers = new KnownBrowsers('s'.repeat(32), clock.now);
    const ada = accountKeyOf('ada@example.test', 'k'.repeat(32));
    const bob = accountKeyOf('bob@example.test', 'k'.repeat(32));
    const proof = browsers.issue(ada);
    expect(browsers.recognises(proof, ada)).toBe(true);
    expect(browsers.recognises(proof, bob)).toBe(false);
    expect(new KnownBrowsers('t'.repeat(32), clock.now).recognises(proof, ada)).toBe(false);
    const [issuedAt, nonce, mac] = proof.split('.');
    expect(browsers.recognises(`${issuedAt}.${nonce}x.${mac}`, ada)).toBe(false);
    expect(browsers.recognises(`${issuedAt}.${nonce}.${mac}.x`, ada)).toBe(false);
    expect(browsers.recognises(undefined, ada)).toBe(false);
    expect(browsers.recognises('', ada)).toBe(false);
    clock.advance(KNOWN_BROWSER_TTL_SECONDS * 1000);
    expect(browsers.recognises(proof, ada)).toBe(true);
    clock.advance(1000);
    expect(browsers.recognises(proof, ada)).toBe(false);
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
