import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { apiConfigSchema } from '../../api/api.config.js';
import { ConfigError, loadConfig } from '../../common/config.js';
import { directoryCryptoFrom, masterKeyringFrom } from '../../directory/crypto/crypto.config.js';

const key = () => randomBytes(32).toString('base64');

describe('P12: the directory keys in the API configuration', () => {
  const shape = apiConfigSchema.shape;

  it('parses master keys and the blind index key into 32-byte keys', () => {
    const k1 = key();
    const keys = shape.DIRECTORY_MASTER_KEYS.parse(`k1:${k1},k2:${key()}`);
    expect([...keys.keys()]).toEqual(['k1', 'k2']);
    expect(keys.get('k1')!.equals(Buffer.from(k1, 'base64'))).toBe(true);
    expect(shape.EMAIL_INDEX_KEY.parse(key())).toHaveLength(32);
  });

  it('names a bad key without repeating any key material', () => {
    const leaked = randomBytes(20).toString('base64');
    try {
      loadConfig('api', apiConfigSchema, {
        DIRECTORY_MASTER_KEYS: `k1:${leaked}`,
        DIRECTORY_ACTIVE_KEY_ID: 'k1',
        EMAIL_INDEX_KEY: leaked,
      });
      expect.unreachable('a short key must not load');
    } catch (err) {
      const message = (err as ConfigError).message;
      expect(message).toContain('DIRECTORY_MASTER_KEYS: key "k1" must be 32 bytes in base64');
      expect(message).toContain('EMAIL_INDEX_KEY: must be 32 bytes in base64');
      expect(message).not.toContain(leaked);
    }
  });

  it('refuses an active key id that names none of the master keys', () => {
    const config = {
      DIRECTORY_MASTER_KEYS: shape.DIRECTORY_MASTER_KEYS.parse(`k1:${key()}`),
      DIRECTORY_ACTIVE_KEY_ID: 'k2',
      EMAIL_INDEX_KEY: Buffer.from(key(), 'base64'),
    };
    expect(() => masterKeyringFrom(config)).toThrow(ConfigError);
    expect(() => directoryCryptoFrom(config)).toThrow(/DIRECTORY_ACTIVE_KEY_ID: must name one/);
    expect(
      directoryCryptoFrom({ ...config, DIRECTORY_ACTIVE_KEY_ID: 'k1' }).keyring.keyIds,
    ).toEqual(['k1']);
  });
});
