import pg from 'pg';
import { z } from 'zod';
import { apiConfigSchema } from '../api/api.config.js';
import { ConfigError, env, loadConfig } from '../common/config.js';
import { createLogger } from '../common/logger.js';
import { directoryKeysShape, masterKeyringFrom } from '../directory/crypto/crypto.config.js';
import { rotateDataKeys } from '../directory/crypto/rotate-keys.js';
import { jobsConfigSchema } from './jobs.config.js';
import { runJobsOnce } from './jobs.js';

/**
 * Operator commands, one at a time: `npm run telemoat -- <command> [--option=value]`, or in a
 * deployment `docker compose run --rm --entrypoint "node --import tsx bin/telemoat.ts" api
 * <command>` (the api service holds the keys and the database URL rotate-keys needs).
 */
type Command = (options: Map<string, string>) => Promise<void>;

const print = (line: string) => process.stdout.write(`${line}\n`);

/** rotate-keys reads the API's database URL and keys: it connects as `telemoat_api`. */
const rotateKeysConfigSchema = z.object({
  LOG_LEVEL: env.logLevel(),
  API_DATABASE_URL: apiConfigSchema.shape.API_DATABASE_URL,
  DIRECTORY_MASTER_KEYS: directoryKeysShape.DIRECTORY_MASTER_KEYS,
  DIRECTORY_ACTIVE_KEY_ID: directoryKeysShape.DIRECTORY_ACTIVE_KEY_ID,
});

const commands: Record<string, { usage: string; run: Command }> = {
  'rotate-keys': {
    usage: 'rotate-keys [--batch-size=500]  re-wrap every data key under DIRECTORY_ACTIVE_KEY_ID',
    async run(options) {
      const config = loadConfig('rotate-keys', rotateKeysConfigSchema, process.env);
      const batchSize = Number(options.get('batch-size') ?? 500);
      if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000) {
        throw new ConfigError('command line', ['--batch-size: must be an integer 1-100000']);
      }
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
        print(
          `rotate-keys: done; ${result.rewrapped} data keys re-wrapped, every data key is under "${keyring.activeKeyId}". Other master keys may now be removed from DIRECTORY_MASTER_KEYS.`,
        );
      } finally {
        await pool.end();
      }
    },
  },
  'run-jobs': {
    usage: 'run-jobs                         run every retention job once, as telemoat_jobs',
    async run() {
      const config = loadConfig('jobs', jobsConfigSchema, process.env);
      const result = await runJobsOnce(
        config,
        createLogger({ name: 'jobs', level: config.LOG_LEVEL }),
      );
      print(`run-jobs: ${JSON.stringify(result)}`);
    },
  },
};

function usage(): string {
  return ['usage: telemoat <command>', ...Object.values(commands).map((c) => `  ${c.usage}`)].join(
    '\n',
  );
}

async function main(argv: readonly string[]): Promise<void> {
  const [name, ...rest] = argv;
  const command = name ? commands[name] : undefined;
  if (!command) throw new ConfigError('command line', [usage()]);
  const options = new Map<string, string>();
  for (const arg of rest) {
    const match = /^--([a-z][a-z-]*)=(.*)$/.exec(arg);
    if (!match) throw new ConfigError('command line', [`unknown argument ${arg}`, usage()]);
    options.set(match[1]!, match[2]!);
  }
  await command.run(options);
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(
      `${err instanceof ConfigError ? err.message : `telemoat: ${String((err as Error)?.stack ?? err)}`}\n`,
    );
    process.exit(1);
  },
);
