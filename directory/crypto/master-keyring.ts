import { CipherError, decrypt, encrypt, KEY_BYTES } from './field-cipher.js';

/** Master key ids appear in config and in `data_keys.master_key_id`. */
export const masterKeyIdPattern = /^[A-Za-z0-9_-]{1,32}$/;

/** A data key is wrapped by a master key this process was not given. */
export class UnknownMasterKeyError extends Error {
  constructor(readonly masterKeyId: string) {
    super(`data key is wrapped by master key "${masterKeyId}", which is not configured`);
    this.name = 'UnknownMasterKeyError';
  }
}

/**
 * The master keys from config (P12: kept apart from the data, which holds only wrapped data
 * keys). New data keys are wrapped by the active one; unwrapping works with any configured key,
 * so a rotation can run while the API serves requests.
 */
export class MasterKeyring {
  private readonly keys: ReadonlyMap<string, Buffer>;

  constructor(
    keys: ReadonlyMap<string, Buffer>,
    readonly activeKeyId: string,
  ) {
    for (const [id, key] of keys) {
      if (!masterKeyIdPattern.test(id)) throw new Error(`bad master key id "${id}"`);
      if (key.length !== KEY_BYTES)
        throw new Error(`master key "${id}" must be ${KEY_BYTES} bytes`);
    }
    if (!keys.has(activeKeyId)) throw new Error(`active master key "${activeKeyId}" is not given`);
    this.keys = new Map(keys);
  }

  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  has(masterKeyId: string): boolean {
    return this.keys.has(masterKeyId);
  }

  /** Wraps a data key under the active master key, bound to the data key's own id. */
  wrap(dataKeyId: string, dataKey: Buffer): { wrappedKey: Buffer; masterKeyId: string } {
    const master = this.keys.get(this.activeKeyId)!;
    return {
      wrappedKey: encrypt(master, dataKey, wrapContext(dataKeyId)),
      masterKeyId: this.activeKeyId,
    };
  }

  unwrap(dataKeyId: string, masterKeyId: string, wrappedKey: Buffer): Buffer {
    const master = this.keys.get(masterKeyId);
    if (!master) throw new UnknownMasterKeyError(masterKeyId);
    const key = decrypt(master, wrappedKey, wrapContext(dataKeyId));
    if (key.length !== KEY_BYTES) throw new CipherError('wrapped data key has the wrong size');
    return key;
  }
}

const wrapContext = (dataKeyId: string) => `telemoat/data_keys.wrapped_key/${dataKeyId}`;

/**
 * Parses `DIRECTORY_MASTER_KEYS`: `id:base64,id:base64`, each key 32 bytes. Messages name the
 * entry by position and never echo key material.
 */
export function parseMasterKeys(text: string): { keys: Map<string, Buffer> } | { error: string } {
  const keys = new Map<string, Buffer>();
  const entries = text
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length === 0) return { error: 'must list at least one key as id:base64' };
  for (const [index, entry] of entries.entries()) {
    const colon = entry.indexOf(':');
    const id = colon < 0 ? '' : entry.slice(0, colon);
    if (!masterKeyIdPattern.test(id)) {
      return {
        error: `entry ${index + 1} must be id:base64 with an id matching [A-Za-z0-9_-]{1,32}`,
      };
    }
    const key = decodeKey(entry.slice(colon + 1));
    if (!key) return { error: `key "${id}" must be ${KEY_BYTES} bytes in base64` };
    if (keys.has(id)) return { error: `key "${id}" is listed twice` };
    keys.set(id, key);
  }
  return { keys };
}

/** 32 bytes of standard or URL-safe base64, or undefined. */
export function decodeKey(text: string): Buffer | undefined {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) return undefined;
  const key = Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return key.length === KEY_BYTES ? key : undefined;
}
