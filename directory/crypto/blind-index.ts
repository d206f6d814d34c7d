import { createHmac } from 'node:crypto';
import { KEY_BYTES } from './field-cipher.js';

/**
 * The one form of an e-mail address that is indexed and compared: trimmed, Unicode NFC, lower
 * case. Local parts are case-sensitive in theory, but no mail provider in use treats them so,
 * and the previous schema was already unique on lower(email).
 */
export function normaliseEmail(email: string): string {
  return email.trim().normalize('NFC').toLowerCase();
}

/**
 * A keyed HMAC-SHA-256 of the normalised address: lets the directory find and keep unique an
 * e-mail it stores only encrypted (P12), without a plaintext or an unkeyed hash (which anyone
 * could compute from a list of addresses) in the database. The key lives in config, apart from
 * the data.
 */
export class BlindIndex {
  constructor(private readonly key: Buffer) {
    if (key.length !== KEY_BYTES) throw new Error(`blind index key must be ${KEY_BYTES} bytes`);
  }

  email(email: string): Buffer {
    return createHmac('sha256', this.key)
      .update(`email:${normaliseEmail(email)}`)
      .digest();
  }
}
