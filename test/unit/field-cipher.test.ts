import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DataKey } from '../../directory/crypto/data-key.js';
import { CipherError, decryptText, encryptText } from '../../directory/crypto/field-cipher.js';
import {
  MasterKeyring,
  parseMasterKeys,
  UnknownMasterKeyError,
} from '../../directory/crypto/master-keyring.js';

const key = () => randomBytes(32);
const place = 'telemoat/users.name/0b5f6d1e-0000-4000-8000-000000000001';

describe('P12: field cipher (AES-256-GCM with associated data)', () => {
  it('round-trips a value and never repeats a ciphertext (random 96-bit IV per value)', () => {
    const k = key();
    const a = encryptText(k, 'Ingrid Bergström', place);
    const b = encryptText(k, 'Ingrid Bergström', place);
    expect(decryptText(k, a, place)).toBe('Ingrid Bergström');
    expect(a.equals(b)).toBe(false);
    expect(a.subarray(1, 13).equals(b.subarray(1, 13))).toBe(false);
    expect(a.toString('latin1')).not.toContain('Ingrid');
  });

  it('refuses a tampered ciphertext, tag or IV', () => {
    const k = key();
    const sealed = encryptText(k, 'Storgatan 1', place);
    for (const index of [0, 1, 13, sealed.length - 1]) {
      const tampered = Buffer.from(sealed);
      tampered[index]! ^= 0x01;
      expect(() => decryptText(k, tampered, place), `byte ${index}`).toThrow(CipherError);
    }
    expect(() => decryptText(k, sealed.subarray(0, 20), place)).toThrow(CipherError);
  });

  it('refuses the wrong associated data: a value copied to another row or column', () => {
    const k = key();
    const sealed = encryptText(k, 'anna@example.test', place);
    expect(() => decryptText(k, sealed, place.replace('000001', '000002'))).toThrow(CipherError);
    expect(() => decryptText(k, sealed, place.replace('users.name', 'users.email'))).toThrow(
      CipherError,
    );
  });

  it('refuses the wrong key', () => {
    const sealed = encryptText(key(), '+46 70 123 45 67', place);
    expect(() => decryptText(key(), sealed, place)).toThrow(CipherError);
  });

  it('binds a data key to the table, column and row of each value', () => {
    const dataKey = new DataKey('k', key());
    const alice = { table: 'users', column: 'name', rowId: 'a' };
    const bob = { table: 'users', column: 'name', rowId: 'b' };
    const sealed = dataKey.seal(alice, 'Alice');
    expect(dataKey.open(alice, sealed)).toBe('Alice');
    expect(() => dataKey.open(bob, sealed)).toThrow(CipherError);
    expect(dataKey.sealOptional(alice, null)).toBeNull();
    expect(dataKey.openOptional(alice, null)).toBeNull();
  });
});

describe('P12: master keys wrap data keys', () => {
  const k1 = key();
  const k2 = key();

  it('unwraps a data key with whichever configured master key wrapped it', () => {
    const dataKey = key();
    const old = new MasterKeyring(new Map([['k1', k1]]), 'k1');
    const wrapped = old.wrap('dk-1', dataKey);
    expect(wrapped.masterKeyId).toBe('k1');
    expect(wrapped.wrappedKey).toHaveLength(61);
    const both = new MasterKeyring(
      new Map([
        ['k1', k1],
        ['k2', k2],
      ]),
      'k2',
    );
    expect(both.unwrap('dk-1', 'k1', wrapped.wrappedKey).equals(dataKey)).toBe(true);
    expect(both.wrap('dk-1', dataKey).masterKeyId).toBe('k2');
  });

  it('refuses a wrapped key moved to another data key id, and names a missing master key', () => {
    const ring = new MasterKeyring(new Map([['k1', k1]]), 'k1');
    const { wrappedKey } = ring.wrap('dk-1', key());
    expect(() => ring.unwrap('dk-2', 'k1', wrappedKey)).toThrow(CipherError);
    expect(() => ring.unwrap('dk-1', 'gone', wrappedKey)).toThrow(UnknownMasterKeyError);
    const other = new MasterKeyring(new Map([['k1', key()]]), 'k1');
    expect(() => other.unwrap('dk-1', 'k1', wrappedKey)).toThrow(CipherError);
  });

  it('parses DIRECTORY_MASTER_KEYS without echoing key material in its errors', () => {
    const text = `k1:${k1.toString('base64')}, k2:${k2.toString('base64url')}`;
    const parsed = parseMasterKeys(text);
    expect('keys' in parsed && [...parsed.keys.keys()]).toEqual(['k1', 'k2']);
    const short = randomBytes(16).toString('base64');
    for (const bad of ['', 'nokey', `k1:${short}`, `bad id:${k1.toString('base64')}`]) {
      const result = parseMasterKeys(bad);
      expect('error' in result, bad).toBe(true);
      if ('error' in result) expect(result.error).not.toContain(short);
    }
    expect(parseMasterKeys(`k1:${k1.toString('base64')},k1:${k2.toString('base64')}`)).toEqual({
      error: 'key "k1" is listed twice',
    });
  });
});
