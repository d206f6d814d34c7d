import pg from 'pg';
import { migrate } from './migrate.js';

/** The component roles; their rights are granted by the migrations. */
export const componentRoles = ['telemoat_api', 'telemoat_broker', 'telemoat_jobs'] as const;
export type ComponentRole = (typeof componentRoles)[number];

/** An arbitrary constant naming the server-wide lock around role changes. */
const ROLES_LOCK = 7_281_005;

export interface ProvisionOptions {
  /** A URL of a role that may create roles and own the schema. */
  adminUrl: string;
  /** The database to create (if missing) and migrate. */
  database: string;
  passwords: Record<ComponentRole, string>;
}

/**
 * Brings a Postgres server to the state the platform expects: the database, one login role
 * per component with its own password, and every migration applied. Idempotent.
 */
export async function provisionDirectory(options: ProvisionOptions): Promise<string[]> {
  await withClient(adminUrlFor(options.adminUrl, 'postgres'), async (client) => {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [
      options.database,
    ]);
    if (exists.rowCount === 0) {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(options.database)}`);
    }
    // Roles are server-wide: serialise set-ups of several databases on one server.
    await client.query('SELECT pg_advisory_lock($1)', [ROLES_LOCK]);
    for (const role of componentRoles) {
      const found = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
      const verb = found.rowCount === 0 ? 'CREATE' : 'ALTER';
      // DDL cannot take bind parameters; escapeLiteral is pg's own quoting for this case.
      await client.query(
        `${verb} ROLE ${client.escapeIdentifier(role)} LOGIN PASSWORD ${client.escapeLiteral(options.passwords[role])}`,
      );
    }
    await client.query('SELECT pg_advisory_unlock($1)', [ROLES_LOCK]);
  });
  return withClient(adminUrlFor(options.adminUrl, options.database), async (client) => {
    const db = client.escapeIdentifier(options.database);
    await client.query(`REVOKE ALL ON DATABASE ${db} FROM PUBLIC`);
    await client.query('REVOKE ALL ON SCHEMA public FROM PUBLIC');
    for (const role of componentRoles) {
      await client.query(`GRANT CONNECT ON DATABASE ${db} TO ${client.escapeIdentifier(role)}`);
    }
    // The broker reaches only its own schema (see the migrations), never public's tables.
    for (const role of ['telemoat_api', 'telemoat_jobs'] satisfies ComponentRole[]) {
      await client.query(`GRANT USAGE ON SCHEMA public TO ${client.escapeIdentifier(role)}`);
    }
    return migrate(client);
  });
}

/** The connection URL a component uses: same server and database, its own role. */
export function roleUrl(adminUrl: string, database: string, role: ComponentRole, password: string) {
  const url = new URL(adminUrlFor(adminUrl, database));
  url.username = role;
  url.password = password;
  return url.toString();
}

function adminUrlFor(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
