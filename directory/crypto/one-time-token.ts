import { createHash, randomBytes } from 'node:crypto';

/**
 * Links in e-mails carry a random 256-bit token; the directory stores only its SHA-256, so a
 * copy of the database cannot be turned into working links. A plain hash suffices: the token is
 * random, not a guessable secret like a password.
 */
export function newOneTimeToken(): { token: string; hash: Buffer } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashOneTimeToken(token) };
}

export function hashOneTimeToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** The shape every token link carries: 43 base64url characters. */
export const oneTimeTokenPattern = /^[A-Za-z0-9_-]{43}$/;
