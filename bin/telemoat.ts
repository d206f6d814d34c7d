import { ConfigError } from '../common/config.js';
import { Options, type Command } from './cli/command.js';
import { createOrgCommand } from './cli/create-org.command.js';
import { provisionDevicesCommand } from './cli/provision-devices.command.js';
import { rotateKeysCommand } from './cli/rotate-keys.command.js';
import { runJobsCommand } from './cli/run-jobs.command.js';

/**
 * Operator commands, one at a time: `npm run telemoat -- <command> [--option value]`, or in a
 * deployment `docker compose run --rm --entrypoint "node --import tsx bin/telemoat.ts" api
 * <command>` (the api service holds the keys and the database URL the directory commands need).
 * Each command lives in bin/cli/.
 */
const commands: Record<string, Command> = {
  'create-org': createOrgCommand,
  'provision-devices': provisionDevicesCommand,
  'run-jobs': runJobsCommand,
  'rotate-keys': rotateKeysCommand,
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
  await command.run(Options.parse(rest));
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
