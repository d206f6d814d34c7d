import { describe, expect, it } from 'vitest';
import { newDeviceSecret } from '../../common/ids.js';
import {
  hashDeviceSecret,
  hashSecret,
  needsRehash,
  PASSWORD_COST,
  verifySecret,
} from '../../common/secret-hash.js';

describe('secret hashes (P12: device secrets and passwords are stored only as hashes)', () => {
  it('a device secret verifies against its SHA-256 hash, which does not contain it', async () => {
    const secret = newDeviceSecret();
    const stored = hashDeviceSecret(secret);
    expect(stored).toMatch(/^sha256\$[A-Za-z0-9+/]{43}=$/);
    expect(stored).not.toContain(secret);
    expect(await verifySecret(secret, stored)).toBe(true);
    expect(await verifySecret(newDeviceSecret(), stored)).toBe(false);
    expect(await verifySecret(secret.slice(1), stored)).toBe(false);
  });

  it("passwords are hashed with scrypt at OWASP's cost and salted, so equal passwords hash differently", async () => {
    const [a, b] = await Promise.all([hashSecret('correct horse'), hashSecret('correct horse')]);
    expect(a).toMatch(/^scrypt\$131072\$8\$1\$/);
    expect(a).not.toBe(b);
    expect(await verifySecret('correct horse', a)).toBe(true);
    expect(await verifySecret('correct hors', a)).toBe(false);
  });

  it('a scrypt hash cheaper than the cost asked for needs replacing; an equal or dearer one does not', async () => {
    const cheap = await hashSecret('correct horse', { N: 2 ** 14, r: 8, p: 1 });
    expect(needsRehash(cheap, PASSWORD_COST)).toBe(true);
    expect(needsRehash(cheap, { N: 2 ** 14, r: 8, p: 1 })).toBe(false);
    expect(needsRehash(cheap, { N: 2 ** 10, r: 8, p: 1 })).toBe(false);
    expect(needsRehash(cheap, { N: 2 ** 14, r: 8, p: 2 })).toBe(true);
    expect(needsRehash(hashDeviceSecret('a device secret'), PASSWORD_COST)).toBe(false);
  });

  it('a device provisioned with a scrypt hash still signs in', async () => {
    const secret = newDeviceSecret();
    expect(await verifySecret(secret, await hashSecret(secret))).toBe(true);
  });

  it.each(['', 'sha256$', 'sha256$AAAA', 'md5$abc', 'scrypt$16384$8$1$c2FsdA=='])(
    'a malformed stored hash %j never verifies',
    async (stored) => {
      expect(await verifySecret('anything', stored)).toBe(false);
    },
  );
});
