import { randomBytes } from 'node:crypto';
import { chown, readFile, writeFile } from 'node:fs/promises';
import type { RunAs } from './server-process.js';

/** Reads a password stored by an earlier run, or creates one readable only by its owner. */
export async function readOrCreateSecret(file: string, owner?: RunAs): Promise<string> {
  const existing = await readSecret(file);
  if (existing !== undefined) return existing;
  // base64url keeps the password safe inside URLs and InfluxQL string literals.
  const secret = randomBytes(24).toString('base64url');
  await writeFile(file, secret, { mode: 0o600, flag: 'wx' });
  if (owner !== undefined) await chown(file, owner.uid, owner.gid);
  return secret;
}

/** The stored password, or undefined when the file does not exist. */
export async function readSecret(file: string): Promise<string | undefined> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}
