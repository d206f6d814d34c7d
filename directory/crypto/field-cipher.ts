import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM for one value (P12). Each value gets a fresh random 96-bit IV, and associated
 * data that names where it belongs (table, column, row), so a ciphertext copied into another
 * row or column fails authentication instead of decrypting as someone else's value.
 *
 * Layout: version (1 byte) | IV (12) | tag (16) | ciphertext. The version byte lets the format
 * change later without guessing.
 */
const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const KEY_BYTES = 32;

/** Thrown for any ciphertext that cannot be opened: tampered, wrong key or wrong place. */
export class CipherError extends Error {
  constructor(message = 'ciphertext could not be authenticated') {
    super(message);
    this.name = 'CipherError';
  }
}

export function encrypt(key: Buffer, plaintext: Buffer, associatedData: string): Buffer {
  assertKey(key);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), body]);
}

export function decrypt(key: Buffer, sealed: Buffer, associatedData: string): Buffer {
  assertKey(key);
  if (sealed.length < 1 + IV_BYTES + TAG_BYTES || sealed[0] !== VERSION) {
    throw new CipherError('not a Telemoat ciphertext');
  }
  const iv = sealed.subarray(1, 1 + IV_BYTES);
  const tag = sealed.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
  const body = sealed.subarray(1 + IV_BYTES + TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.from(associatedData, 'utf8'));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    throw new CipherError();
  }
}

export const encryptText = (key: Buffer, text: string, associatedData: string): Buffer =>
  encrypt(key, Buffer.from(text, 'utf8'), associatedData);

export const decryptText = (key: Buffer, sealed: Buffer, associatedData: string): string =>
  decrypt(key, sealed, associatedData).toString('utf8');

function assertKey(key: Buffer): void {
  if (key.length !== KEY_BYTES) throw new CipherError(`key must be ${KEY_BYTES} bytes`);
}
