import { createHash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Secrets are stored only as hashes (P12). Passwords are chosen by people, so they get scrypt
 * (memory-hard), its parameters inside the stored string so they can be raised later without
 * invalidating existing hashes: a sign-in with an older, cheaper hash stores a new one
 * (`needsRehash`). Device secrets get SHA-256: see hashDeviceSecret.
 */
export interface ScryptCost {
  N: number;
  r: number;
  p: number;
}

/** OWASP's Password Storage Cheat Sheet: N = 2^17 (128 MiB), r = 8, p = 1. */
export const PASSWORD_COST: ScryptCost = { N: 2 ** 17, r: 8, p: 1 };

const KEY_LENGTH = 32;

/** The dearest cost a deployment may configure (`PASSWORD_HASH_LOG2_N`). */
export const MAX_PASSWORD_COST_LOG2_N = 18;

/** scrypt needs 128·N·r bytes; room for the largest cost the configuration allows. */
const MAX_MEMORY = 2 * 128 * 2 ** MAX_PASSWORD_COST_LOG2_N * 8;

function derive(secret: string, salt: Buffer, options: ScryptOptions, keyLength: number) {
  return new Promise<Buffer>((resolve, reject) => {
    scrypt(secret, salt, keyLength, { ...options, maxmem: MAX_MEMORY }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

export async function hashSecret(
  secret: string,
  cost: ScryptCost = PASSWORD_COST,
): Promise<string> {
  const salt = randomBytes(16);
  const { N, r, p } = cost;
  const key = await derive(secret, salt, { N, r, p }, KEY_LENGTH);
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Whether a stored password hash is cheaper than `cost` asks: worth replacing at sign-in. */
export function needsRehash(stored: string, cost: ScryptCost): boolean {
  const [scheme, n, r, p] = stored.split('$');
  // Only scrypt hashes have a cost to compare (the SHA-256 scheme is for device secrets).
  if (scheme !== 'scrypt') return false;
  return Number(n) < cost.N || Number(r) < cost.r || Number(p) < cost.p;
}

/**
 * Device secrets are 256 random bits from newDeviceSecret, so there is no dictionary to try and
 * a slow hash adds no strength; it would only cost ~15 ms of CPU per first connection, which
 * caps a fleet reconnecting after a broker restart at a few hundred devices per second.
 */
export function hashDeviceSecret(secret: string): string {
  return `sha256$${sha256(secret).toString('base64')}`;
}

const sha256 = (secret: string) => createHash('sha256').update(secret, 'utf8').digest();

/** Checks a secret against either kind of stored hash; devices provisioned before
 * hashDeviceSecret existed keep their scrypt hashes until their next rotation. */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, saltB64, keyB64] = stored.split('$');
  if (scheme === 'sha256' && n) {
    const expected = Buffer.from(n, 'base64');
    const actual = sha256(secret);
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  }
  if (scheme !== 'scrypt' || !n || !r || !p || !saltB64 || !keyB64) return false;
  const expected = Buffer.from(keyB64, 'base64');
  const actual = await derive(
    secret,
    Buffer.from(saltB64, 'base64'),
    { N: Number(n), r: Number(r), p: Number(p) },
    expected.length,
  );
  return timingSafeEqual(actual, expected);
}
