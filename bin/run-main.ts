import { ConfigError } from '../common/config.js';

export interface Running {
  close(): Promise<void>;
}

/**
 * The shared tail of every entry point: start, report a bad configuration with every wrong
 * key and exit non-zero, and shut down cleanly once on SIGINT or SIGTERM.
 */
export function runMain(name: string, start: () => Promise<Running>): void {
  start().then(
    (running) => {
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        process.stderr.write(`${name}: ${signal} received, shutting down\n`);
        running.close().then(
          () => process.exit(0),
          (err: unknown) => {
            process.stderr.write(`${name}: shutdown failed: ${String(err)}\n`);
            process.exit(1);
          },
        );
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    },
    (err: unknown) => {
      const message =
        err instanceof ConfigError
          ? err.message
          : `${name} failed to start: ${String((err as Error)?.stack ?? err)}`;
      process.stderr.write(`${message}\n`);
      process.exit(1);
    },
  );
}
