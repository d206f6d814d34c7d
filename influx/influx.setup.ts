import { rowsOf, type InfluxClient } from './influx.client.js';

/** InfluxQL cannot bind identifiers or passwords, so both are held to patterns with nothing to escape. */
const identifierPattern = /^[a-z][a-z0-9_]{0,62}$/;
const passwordPattern = /^[A-Za-z0-9._~+/=-]{12,128}$/;

export interface InfluxUser {
  username: string;
  password: string;
}

export interface InfluxLayout {
  database: string;
  /** Writes readings; WRITE on the database and nothing else. */
  ingest: InfluxUser;
  /** Reads readings for authorised members; READ on the database and nothing else. */
  api: InfluxUser;
}

export function identifier(value: string): string {
  if (!identifierPattern.test(value)) throw new Error(`invalid InfluxDB identifier: ${value}`);
  return `"${value}"`;
}

function password(value: string): string {
  if (!passwordPattern.test(value)) throw new Error('InfluxDB password has unsupported characters');
  return `'${value}'`;
}

/**
 * Creates the database and the per-component users with only the rights they need (P21).
 * Runs with the admin user at every start-up and is idempotent, so it also repairs drift.
 */
export async function setupInflux(admin: InfluxClient, layout: InfluxLayout): Promise<void> {
  await admin.query(`CREATE DATABASE ${identifier(layout.database)}`);
  const existing = new Set(
    (await admin.query('SHOW USERS')).flatMap(rowsOf).map((row) => String(row.user)),
  );
  const grants: [InfluxUser, 'READ' | 'WRITE'][] = [
    [layout.ingest, 'WRITE'],
    [layout.api, 'READ'],
  ];
  for (const [user, privilege] of grants) {
    const name = identifier(user.username);
    if (existing.has(user.username)) {
      await admin.query(`SET PASSWORD FOR ${name} = ${password(user.password)}`);
    } else {
      await admin.query(`CREATE USER ${name} WITH PASSWORD ${password(user.password)}`);
    }
    await admin.query(`REVOKE ALL PRIVILEGES ON ${identifier(layout.database)} FROM ${name}`);
    await admin.query(`GRANT ${privilege} ON ${identifier(layout.database)} TO ${name}`);
  }
}
