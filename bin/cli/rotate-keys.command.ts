import pg from 'pg';
import { z } from 'zod';
import { apiConfigSchema } from '../../api/api.config.js';
import { env, loadConfig } from '../../common/config.js';
import { directoryKeysShape, masterKeyringFrom } from '../../directory/crypto/crypto.config.js';
import { rotateDataKeys } from '../../directory/crypto/rotate-keys.js';
import { print, type Command } from './command.js';

/** rotate-keys reads the API's database URL and keys: it connects as `telemoat_api`. */
const rotateKeysConfigSchema = z.object({
  LOG_LEVEL: env.logLevel(),
  API_DATABASE_URL: apiConfigSchema.shape.API_DATABASE_URL,
  DIRECTORY_MASTER_KEYS: directoryKeysShape.DIRECTORY_MASTER_KEYS,
  DIRECTORY_ACTIVE_KEY_ID: directoryKeysShape.DIRECTORY_ACTIVE_KEY_ID,
});

export const rotateKeysCommand: Command = {
  usage: 'rotate-keys [--batch-size=500]  re-wrap every data key under DIRECTORY_ACTIVE_KEY_ID',
  async run(options) {
    const batchSize = options.integer('batch-size', { min: 1, max: 100_000, default: 500 });
    options.rejectUnknown();
    const config = loadConfig('rotate-keys', rotateKeysConfigSchema, process.env);
    const keyring = masterKeyringFrom(config, 'rotate-keys');
    const pool = new pg.Pool({ connectionString: config.API_DATABASE_URL, max: 1 });
    try {
      let announced = false;
      const result = await rotateDataKeys(pool, keyring, {
        batchSize,
        onProgress: (p) => {
          if (!announced) {
            announced = true;
            const counts = Object.entries(p.byMasterKey).map(([id, n]) => `${id}: ${n}`);
            print(
              `rotate-keys: ${p.total} data keys to re-wrap under "${keyring.activeKeyId}" (${counts.join(', ') || 'no data keys'})`,
            );
            return;
          }
          print(`rotate-keys: ${p.rewrapped}/${p.total} re-wrapped`);
        },
      });
      const left = Object.entries(result.remaining).map(([id, n]) => `${id}: ${n}`);
      if (left.length > 0) {
        // Counted after the run: never tell an operator to remove a key that still wraps data.
        throw new Error(
          `${result.rewrapped} data keys re-wrapped, but some are still under other master keys (${left.join(', ')}); keep those keys and run rotate-keys again`,
        );
      }
      print(
        `rotate-keys: done; ${result.rewrapped} data keys re-wrapped, and a fresh count finds every data key under "${keyring.activeKeyId}". Other master keys may now be removed from DIRECTORY_MASTER_KEYS.`,
      );
    } finally {
      await pool.end();
    }
  },
};
