import { describe, expect, it } from 'vitest';
import { newDeviceSecret } from '../../common/ids.js';
import { hashDeviceSecret, hashSecret, verifySecret } from '../../common/secret-hash.js';

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

  it('passwords are hashed with scrypt and salted, so equal passwords hash differently', async () => {
    const [a, b] = await Promise.all([hashSecret('correct horse'), hashSecret('correct horse')]);
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(a).not.toBe(b);
    expect(await verifySecret('correct horse', a)).toBe(true);
    expect(await verifySecret('correct hors', a)).toBe(false);
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
