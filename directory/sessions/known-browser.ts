import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** How long a browser stays recognised after its latest sign-in to the account. */
export const KNOWN_BROWSER_TTL_SECONDS = 180 * 86_400;

/**
 * Proof that a browser has signed in to an account before (OWASP's "device cookie"): its
 * issue time and a random nonce, with an HMAC over them and the account's key. It is checked
 * without any state, so every API instance accepts it, and it unlocks nothing but the
 * account-wide ceiling of the sign-in throttle: the password is still needed, and the
 * per-network limits still apply to the browser's own failures.
 */
export class KnownBrowsers {
  private readonly key: Buffer;

  constructor(
    secret: string,
    private readonly now: () => number = Date.now,
  ) {
    // A key of its own, so a proof can never pass for any other keyed hash of the platform.
    this.key = createHmac('sha256', secret).update('telemoat known-browser v1').digest();
  }

  issue(accountKey: Buffer): string {
    const issuedAt = Math.floor(this.now() / 1000).toString(36);
    const nonce = randomBytes(16).toString('base64url');
    return `${issuedAt}.${nonce}.${this.mac(accountKey, issuedAt, nonce)}`;
  }

  recognises(proof: string | undefined, accountKey: Buffer): boolean {
    const [issuedAt, nonce, mac, ...rest] = (proof ?? '').split('.');
    if (!issuedAt || !nonce || !mac || rest.length > 0) return false;
    const ageSeconds = this.now() / 1000 - parseInt(issuedAt, 36);
    if (!(ageSeconds >= 0 && ageSeconds <= KNOWN_BROWSER_TTL_SECONDS)) return false;
    const expected = Buffer.from(this.mac(accountKey, issuedAt, nonce));
    const given = Buffer.from(mac);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private mac(accountKey: Buffer, issuedAt: string, nonce: string): string {
    return createHmac('sha256', this.key)
      .update(accountKey)
      .update(`.${issuedAt}.${nonce}`)
      .digest('base64url');
  }
}
