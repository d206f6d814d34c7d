import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BlindIndex, normaliseEmail } from '../../directory/crypto/blind-index.js';

describe('P12: e-mail blind index', () => {
  const index = new BlindIndex(randomBytes(32));

  it('finds an address however it is typed: case, surrounding space, Unicode form', () => {
    const a = index.email('Anna.Berg@Example.TEST');
    expect(index.email('  anna.berg@example.test ').equals(a)).toBe(true);
    expect(index.email('o\u0308la@example.test').equals(index.email('\u00f6la@example.test'))).toBe(
      true,
    );
    expect(normaliseEmail(' A@B.C ')).toBe('a@b.c');
  });

  it('is a 32-byte keyed hash: another key, or another address, gives another index', () => {
    const a = index.email('anna@example.test');
    expect(a).toHaveLength(32);
    expect(index.email('anna@example.test').equals(a)).toBe(true);
    expect(index.email('anne@example.test').equals(a)).toBe(false);
    expect(new BlindIndex(randomBytes(32)).email('anna@example.test').equals(a)).toBe(false);
    expect(a.toString('latin1')).not.toContain('anna');
  });

  it('refuses a key that is not 32 bytes', () => {
    expect(() => new BlindIndex(randomBytes(16))).toThrow(/32 bytes/);
  });
});
