import { z } from 'zod';
import { ConfigError } from '../../common/config.js';
import { BlindIndex } from './blind-index.js';
import { decodeKey, MasterKeyring, masterKeyIdPattern, parseMasterKeys } from './master-keyring.js';

/**
 * The configuration keys of the directory's encryption, shared by every component schema that
 * needs them (the API, the key-rotation command). Messages never repeat key material.
 */
export const directoryKeysShape = {
  /** `id:base64,id:base64`: every master key that may have wrapped a data key. */
  DIRECTORY_MASTER_KEYS: z
    .string()
    .superRefine((value, ctx) => {
      const parsed = parseMasterKeys(value);
      if ('error' in parsed) ctx.addIssue({ code: 'custom', message: parsed.error });
    })
    .transform((value) => {
      const parsed = parseMasterKeys(value);
      return 'keys' in parsed ? parsed.keys : new Map<string, Buffer>();
    }),
  /** The master key that wraps new data keys, and that `rotate-keys` re-wraps the others under. */
  DIRECTORY_ACTIVE_KEY_ID: z.string().regex(masterKeyIdPattern, 'must match [A-Za-z0-9_-]{1,32}'),
  /** 32 bytes in base64: the key of the e-mail blind index. */
  EMAIL_INDEX_KEY: z
    .string()
    .refine((value) => decodeKey(value) !== undefined, 'must be 32 bytes in base64')
    .transform((value) => decodeKey(value)!),
};

export interface DirectoryKeysConfig {
  DIRECTORY_MASTER_KEYS: ReadonlyMap<string, Buffer>;
  DIRECTORY_ACTIVE_KEY_ID: string;
}

/**
 * The keyring from parsed config. The active key must be one of the configured keys; that is
 * a configuration error, reported like the schema's own.
 */
export function masterKeyringFrom(config: DirectoryKeysConfig, component = 'api'): MasterKeyring {
  if (!config.DIRECTORY_MASTER_KEYS.has(config.DIRECTORY_ACTIVE_KEY_ID)) {
    throw new ConfigError(component, [
      'DIRECTORY_ACTIVE_KEY_ID: must name one of the keys in DIRECTORY_MASTER_KEYS',
    ]);
  }
  return new MasterKeyring(config.DIRECTORY_MASTER_KEYS, config.DIRECTORY_ACTIVE_KEY_ID);
}

/** Everything the directory's repositories need to seal, open and find personal values. */
export interface DirectoryCrypto {
  keyring: MasterKeyring;
  blindIndex: BlindIndex;
}

export function directoryCryptoFrom(
  config: DirectoryKeysConfig & { EMAIL_INDEX_KEY: Buffer },
): DirectoryCrypto {
  return { keyring: masterKeyringFrom(config), blindIndex: new BlindIndex(config.EMAIL_INDEX_KEY) };
}
