/**
 * Real PostgreSQL and InfluxDB 1.x servers run from local binaries, for the test suite
 * (throw-away folders) and the local start-up (`./.data/postgres`, `./.data/influx`, reused
 * across runs). Each server listens on 127.0.0.1 only and keeps its log in its data folder.
 */

export interface LocalPostgres {
  /** Superuser URL: postgres://USER:PW@127.0.0.1:PORT/postgres */
  url: string;
  port: number;
  stop(): Promise<void>;
}

export interface LocalInflux {
  /** http://127.0.0.1:PORT, without credentials. */
  url: string;
  port: number;
  adminUser: string;
  adminPassword: string;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Created if missing; its parent folders must be traversable by the `postgres` user. */
  dataDir: string;
  /** Preferred port; another free port is used when it is taken. */
  port?: number;
  /** Progress messages (initialisation, package installs); server output goes to a log file. */
  log?: (line: string) => void;
}

export { startPostgres } from './postgres.server.js';
export { startInflux } from './influx.server.js';
