import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { apiConfigSchema } from '../../api/api.config.js';
import { brokerConfigSchema } from '../../broker/broker.config.js';
import { jobsConfigSchema } from '../../bin/jobs.config.js';
import { setupConfigSchema } from '../../bin/setup.config.js';

/**
 * Checks docker-compose.yml and .env.example against the components' configuration schemas,
 * since no test can run Compose itself: each component gets exactly its own keys, every secret
 * comes from .env, and .env.example lists every variable Compose needs.
 */

const read = (file: string) => readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');

const components = {
  setup: setupConfigSchema,
  broker: brokerConfigSchema,
  api: apiConfigSchema,
  jobs: jobsConfigSchema,
} as const;
type Component = keyof typeof components;
const componentNames = Object.keys(components) as Component[];

const shapeOf = (component: Component): Record<string, z.ZodType> => components[component].shape;
const allSchemaKeys = new Set(componentNames.flatMap((c) => Object.keys(shapeOf(c))));

/** The value a schema field takes when its key is unset, as an environment string. */
function defaultOf(field: z.ZodType): string | undefined {
  const result = field.safeParse(undefined);
  if (!result.success || result.data === undefined) return undefined;
  const value = result.data;
  if (typeof value !== 'string' && typeof value !== 'number') {
    throw new Error(`unexpected default ${JSON.stringify(value)}`);
  }
  return String(value);
}

const requiredKeysOf = (component: Component) =>
  Object.entries(shapeOf(component))
    .filter(([, field]) => !field.safeParse(undefined).success)
    .map(([key]) => key);

// ---------------------------------------------------------------------------------------------
// docker-compose.yml

/** The part of the Compose file these tests read; environments must be maps of strings. */
const composeFileSchema = z.looseObject({
  services: z.record(
    z.string(),
    z.looseObject({
      image: z.string().optional(),
      build: z.string().optional(),
      command: z.string().optional(),
      restart: z.string().optional(),
      ports: z.array(z.string()).optional(),
      environment: z.record(z.string(), z.string()).optional(),
      depends_on: z.record(z.string(), z.object({ condition: z.string() })).optional(),
      healthcheck: z.looseObject({ test: z.array(z.string()).min(2) }).optional(),
    }),
  ),
});

const composeText = read('docker-compose.yml');
// Compose resolves YAML merge keys (`<<: *anchor`); the yaml package does so only when asked.
const composeDocument: unknown = parse(composeText, { merge: true });
const compose = composeFileSchema.parse(composeDocument);

function service(name: string) {
  const found = compose.services[name];
  if (!found) throw new Error(`docker-compose.yml has no service "${name}"`);
  return found;
}
const environmentOf = (name: string) => service(name).environment ?? {};

/** What Compose interpolates: `$$` (a literal `$`), `${NAME}`, `${NAME<op><arg>}` or `$NAME`. */
const interpolation =
  /\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g;

interface Reference {
  name: string;
  op: string | undefined;
  arg: string | undefined;
}

function referencesIn(value: string): Reference[] {
  return [...value.matchAll(interpolation)]
    .filter((match) => match[0] !== '$$')
    .map((match) => ({ name: match[1] ?? match[4] ?? '', op: match[2], arg: match[3] }));
}

/** Every string value in a parsed YAML document (keys and comments are not interpolated). */
function stringsIn(node: unknown): string[] {
  if (typeof node === 'string') return [node];
  if (Array.isArray(node)) return node.flatMap(stringsIn);
  if (node && typeof node === 'object') return Object.values(node).flatMap(stringsIn);
  return [];
}

const composeReferences = stringsIn(composeDocument).flatMap(referencesIn);
const composeVariables = new Set(composeReferences.map((ref) => ref.name));

/** Interpolates like Compose does, failing on a `:?` / `?` reference to a missing value. */
function interpolate(value: string, vars: ReadonlyMap<string, string>): string {
  return value.replace(
    interpolation,
    (
      match: string,
      braced: string | undefined,
      op: string | undefined,
      arg: string | undefined,
      bare: string | undefined,
    ) => {
      if (match === '$$') return '$';
      const name = braced ?? bare ?? '';
      const set = vars.get(name);
      const unsetOrEmpty = set === undefined || set === '';
      switch (op) {
        case undefined:
          if (set === undefined) throw new Error(`${name} is referenced without a default`);
          return set;
        case ':-':
          return unsetOrEmpty ? (arg ?? '') : set;
        case '-':
          return set ?? arg ?? '';
        case ':?':
        case '?':
          if (op === ':?' ? unsetOrEmpty : set === undefined) {
            throw new Error(`required variable ${name} is missing: ${arg ?? ''}`);
          }
          return set ?? '';
        case ':+':
          return unsetOrEmpty ? '' : (arg ?? '');
        case '+':
          return set === undefined ? '' : (arg ?? '');
        default:
          throw new Error(`unknown interpolation ${match}`);
      }
    },
  );
}

// ---------------------------------------------------------------------------------------------
// .env.example

interface EnvExample {
  /** `KEY=value` lines: what Compose reads once the file is copied to .env. */
  active: Map<string, string>;
  /** `# KEY=value` lines: optional settings shown with their defaults. */
  commented: Map<string, string>;
  /** Keys whose line is not directly below a comment explaining it. */
  undocumented: string[];
}

function parseEnvExample(text: string): EnvExample {
  const example: EnvExample = { active: new Map(), commented: new Map(), undocumented: [] };
  const lines = text.split('\n');
  lines.forEach((raw, index) => {
    const line = raw.trim();
    const active = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    const commented = /^#\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    const assignment = active ?? commented;
    if (!assignment) {
      if (line !== '' && !line.startsWith('#')) throw new Error(`.env.example: bad line "${raw}"`);
      return;
    }
    const key = assignment[1] ?? '';
    const value = (assignment[2] ?? '').replace(/^(['"])(.*)\1$/, '$2');
    if (example.active.has(key) || example.commented.has(key)) {
      throw new Error(`.env.example: ${key} is listed twice`);
    }
    (active ? example.active : example.commented).set(key, value);
    const above = lines[index - 1]?.trim() ?? '';
    if (!above.startsWith('#') || /^#\s*[A-Za-z_][A-Za-z0-9_]*=/.test(above)) {
      example.undocumented.push(key);
    }
  });
  return example;
}

const envExample = parseEnvExample(read('.env.example'));

const isSecretKey = (key: string) => /_(PASSWORD|KEY|KEYS)$/.test(key);
/** A whole value that is one required reference, `${NAME:?message}`. */
const requiredReference = /^\$\{[A-Za-z_][A-Za-z0-9_]*:\?[^}]+\}$/;

/** The `user:password` part of a URL template, if it has one. */
function userinfoOf(template: string): { user: string; password: string | undefined } | undefined {
  const userinfo = /^[a-z][a-z0-9+.-]*:\/\/([^/]*)@/i.exec(template)?.[1];
  if (userinfo === undefined) return undefined;
  // The user is made of references and characters other than `:`; a password follows a `:`.
  const parts = /^((?:\$\{[^}]*\}|[^:$])*)(?::(.*))?$/.exec(userinfo);
  if (!parts) throw new Error(`cannot read the user of ${template}`);
  return { user: parts[1] ?? '', password: parts[2] };
}

/** .env.example with its empty (secret) values filled in, as an operator would. */
function filledExample(): Map<string, string> {
  const vars = new Map(envExample.active);
  for (const [key, value] of vars) {
    if (value !== '') continue;
    if (key === 'JWT_PRIVATE_KEY') {
      const { privateKey } = generateKeyPairSync('ed25519');
      const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      vars.set(key, pem.replace(/\n/g, '\\n'));
    } else if (key === 'EMAIL_INDEX_KEY') {
      vars.set(key, randomBytes(32).toString('base64'));
    } else if (key === 'DIRECTORY_MASTER_KEYS') {
      const active = vars.get('DIRECTORY_ACTIVE_KEY_ID') ?? '';
      vars.set(key, `${active}:${randomBytes(32).toString('base64')}`);
    } else {
      vars.set(key, randomBytes(18).toString('hex'));
    }
  }
  return vars;
}

function resolvedEnvironment(name: string, vars: ReadonlyMap<string, string>) {
  return Object.fromEntries(
    Object.entries(environmentOf(name)).map(([key, value]) => [key, interpolate(value, vars)]),
  );
}

// ---------------------------------------------------------------------------------------------

describe('docker-compose.yml', () => {
  it('runs PostgreSQL 17 and InfluxDB 1.12 from their official images', () => {
    expect(service('postgres').image).toBe('postgres:17');
    expect(service('influxdb').image).toBe('influxdb:1.12');
    expect(environmentOf('influxdb')).toMatchObject({
      INFLUXDB_HTTP_AUTH_ENABLED: 'true',
      INFLUXDB_REPORTING_DISABLED: 'true',
    });
  });

  it('publishes no port of the databases', () => {
    expect(service('postgres').ports).toBeUndefined();
    expect(service('influxdb').ports).toBeUndefined();
  });

  it.each(componentNames)('runs %s from the project image with its name as command', (name) => {
    expect(service(name).build).toBe('.');
    expect(service(name).command).toBe(name);
  });

  it.each(componentNames)('gives %s only keys of its configuration schema', (name) => {
    const schemaKeys = Object.keys(shapeOf(name));
    const unknown = Object.keys(environmentOf(name)).filter((key) => !schemaKeys.includes(key));
    expect(unknown, `keys set on ${name} that its schema does not read`).toEqual([]);
  });

  it.each(componentNames)('gives %s every key its schema requires', (name) => {
    const set = Object.keys(environmentOf(name));
    const missing = requiredKeysOf(name).filter((key) => !set.includes(key));
    expect(missing, `required keys of ${name} missing from its environment`).toEqual([]);
  });

  it('P12: gives the directory master keys and the e-mail index key to the api alone', () => {
    for (const key of ['DIRECTORY_MASTER_KEYS', 'EMAIL_INDEX_KEY']) {
      const holders = Object.keys(compose.services).filter((name) => key in environmentOf(name));
      expect(holders, key).toEqual(['api']);
    }
  });

  it('gives the JWT signing key to the api alone', () => {
    const holders = Object.keys(compose.services).filter(
      (name) => 'JWT_PRIVATE_KEY' in environmentOf(name),
    );
    expect(holders).toEqual(['api']);
  });

  it.each(componentNames)('falls back to the schema defaults in %s', (name) => {
    const shape = shapeOf(name);
    const mismatches = Object.entries(environmentOf(name)).flatMap(([key, value]) => {
      const field = shape[key];
      if (!field) return [];
      const fallback = defaultOf(field) ?? '(none: required)';
      return referencesIn(value)
        .filter((ref) => (ref.op === ':-' || ref.op === '-') && ref.arg !== fallback)
        .map((ref) => `${key}: compose falls back to ${ref.arg ?? ''}, the schema to ${fallback}`);
    });
    expect(mismatches).toEqual([]);
  });

  it('starts setup once both databases are healthy, and the rest once setup has succeeded', () => {
    expect(service('setup').depends_on).toEqual({
      postgres: { condition: 'service_healthy' },
      influxdb: { condition: 'service_healthy' },
    });
    expect(service('setup').restart).toBe('no');
    for (const name of ['broker', 'api', 'jobs']) {
      expect(service(name).depends_on, name).toEqual({
        setup: { condition: 'service_completed_successfully' },
      });
    }
  });

  it('gives every service that others wait for, or that serves, a health check', () => {
    for (const name of ['postgres', 'influxdb', 'broker', 'api']) {
      expect(service(name).healthcheck?.test[0], name).toMatch(/^CMD(-SHELL)?$/);
    }
    expect(service('postgres').healthcheck?.test.join(' ')).toContain('pg_isready');
    expect(service('influxdb').healthcheck?.test.join(' ')).toContain('/ping');
    expect(service('api').healthcheck?.test.join(' ')).toContain('/healthz');
  });

  it('publishes and health-checks the ports the broker and api listen on', () => {
    const brokerPorts = (['MQTT_PORT', 'MQTT_WS_PORT', 'METRICS_PORT'] as const).map(
      (key) => defaultOf(brokerConfigSchema.shape[key]) ?? '',
    );
    const metricsPort = defaultOf(brokerConfigSchema.shape.METRICS_PORT) ?? '';
    const apiPort = defaultOf(apiConfigSchema.shape.API_PORT) ?? '';
    // The containers keep the schema's default host and ports; only the published side varies.
    for (const key of ['MQTT_PORT', 'MQTT_WS_PORT', 'METRICS_PORT']) {
      expect(environmentOf('broker')).not.toHaveProperty(key);
    }
    expect(environmentOf('api')).not.toHaveProperty('API_PORT');
    for (const port of brokerPorts) {
      expect(service('broker').ports).toContainEqual(expect.stringMatching(`:${port}$`));
    }
    expect(service('api').ports).toContainEqual(expect.stringMatching(`:${apiPort}$`));
    expect(service('broker').healthcheck?.test.join(' ')).toContain(`:${metricsPort}/healthz`);
    expect(service('api').healthcheck?.test.join(' ')).toContain(`:${apiPort}/healthz`);
  });

  it('holds no literal secret: passwords, keys and URL passwords are required references', () => {
    const literal: string[] = [];
    for (const name of Object.keys(compose.services)) {
      for (const [key, value] of Object.entries(environmentOf(name))) {
        if (isSecretKey(key) && !requiredReference.test(value)) literal.push(`${name}.${key}`);
        const password = key.endsWith('_URL') ? userinfoOf(value)?.password : undefined;
        if (password !== undefined && !requiredReference.test(password)) {
          literal.push(`${name}.${key}`);
        }
      }
    }
    expect(literal).toEqual([]);
    // The checks above must have had something to look at.
    expect(Object.keys(environmentOf('setup')).filter(isSecretKey).length).toBeGreaterThan(0);
    expect(userinfoOf(environmentOf('setup').DATABASE_URL ?? '')?.password).toBeDefined();
  });
});

describe('.env.example', () => {
  it('lists every variable docker-compose.yml references', () => {
    expect(composeVariables.size).toBeGreaterThan(0);
    const listed = new Set([...envExample.active.keys(), ...envExample.commented.keys()]);
    expect([...composeVariables].filter((name) => !listed.has(name))).toEqual([]);
  });

  it('lists nothing that neither Compose nor a component reads', () => {
    const keys = [...envExample.active.keys(), ...envExample.commented.keys()];
    const stray = keys.filter((key) => !composeVariables.has(key) && !allSchemaKeys.has(key));
    expect(stray).toEqual([]);
  });

  it('explains every variable in the comment line above it', () => {
    expect(envExample.undocumented).toEqual([]);
  });

  it('ships no secret: each one is empty until the operator generates it', () => {
    const secrets = [...envExample.active].filter(([key]) => isSecretKey(key));
    expect(secrets.length).toBeGreaterThan(0);
    expect(secrets.filter(([, value]) => value !== '')).toEqual([]);
  });

  it('shows each optional setting with its schema default, and Compose passes it on', () => {
    expect(envExample.commented.size).toBeGreaterThan(0);
    const problems: string[] = [];
    for (const [key, value] of envExample.commented) {
      const owners = componentNames.filter((name) => key in shapeOf(name));
      if (owners.length === 0) problems.push(`${key}: no component reads it`);
      for (const name of owners) {
        const field = shapeOf(name)[key];
        if (field && defaultOf(field) !== value) {
          problems.push(
            `${key}: shown as ${value}, ${name} defaults to ${String(defaultOf(field))}`,
          );
        }
        const template = environmentOf(name)[key];
        if (!template || !referencesIn(template).some((ref) => ref.name === key)) {
          problems.push(`${key}: not passed to ${name}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('the deployment once .env is filled in', () => {
  /** Every component's configuration as it would load from .env.example with secrets filled. */
  function deployment() {
    const vars = filledExample();
    return {
      setup: setupConfigSchema.parse(resolvedEnvironment('setup', vars)),
      broker: brokerConfigSchema.parse(resolvedEnvironment('broker', vars)),
      api: apiConfigSchema.parse(resolvedEnvironment('api', vars)),
      jobs: jobsConfigSchema.parse(resolvedEnvironment('jobs', vars)),
      postgres: resolvedEnvironment('postgres', vars),
      influxdb: resolvedEnvironment('influxdb', vars),
    };
  }

  it.each(componentNames)('gives %s a configuration its schema accepts', (name) => {
    const result = components[name].safeParse(resolvedEnvironment(name, filledExample()));
    expect(result.error?.issues ?? []).toEqual([]);
  });

  it('connects setup to Postgres as the superuser the postgres image creates', () => {
    const { setup, postgres } = deployment();
    const admin = new URL(setup.DATABASE_URL);
    expect(admin.hostname).toBe('postgres');
    expect(decodeURIComponent(admin.username)).toBe(postgres.POSTGRES_USER);
    expect(decodeURIComponent(admin.password)).toBe(postgres.POSTGRES_PASSWORD);
    expect(decodeURIComponent(admin.pathname.slice(1))).toBe(postgres.POSTGRES_DB);
  });

  it('connects broker, api and jobs to the same database with the role passwords setup sets', () => {
    const { setup, broker, api, jobs } = deployment();
    const admin = new URL(setup.DATABASE_URL);
    const cases = [
      [broker.BROKER_DATABASE_URL, 'telemoat_broker', setup.BROKER_DATABASE_PASSWORD],
      [api.API_DATABASE_URL, 'telemoat_api', setup.API_DATABASE_PASSWORD],
      [jobs.JOBS_DATABASE_URL, 'telemoat_jobs', setup.JOBS_DATABASE_PASSWORD],
    ] as const;
    for (const [url, role, password] of cases) {
      const parsed = new URL(url);
      expect(parsed.host, role).toBe(admin.host);
      expect(parsed.pathname, role).toBe(admin.pathname);
      expect(parsed.username).toBe(role);
      expect(decodeURIComponent(parsed.password), role).toBe(password);
    }
  });

  it('uses the InfluxDB admin the influxdb image creates and the users setup creates', () => {
    const { setup, broker, api, influxdb } = deployment();
    expect(setup.INFLUX_ADMIN_USER).toBe(influxdb.INFLUXDB_ADMIN_USER);
    expect(setup.INFLUX_ADMIN_PASSWORD).toBe(influxdb.INFLUXDB_ADMIN_PASSWORD);
    for (const config of [broker, api]) {
      expect(config.INFLUX_URL).toBe(setup.INFLUX_URL);
      expect(config.INFLUX_DATABASE).toBe(setup.INFLUX_DATABASE);
    }
    expect(new URL(setup.INFLUX_URL).host).toBe('influxdb:8086');
    expect([broker.INFLUX_INGEST_USER, broker.INFLUX_INGEST_PASSWORD]).toEqual([
      setup.INFLUX_INGEST_USER,
      setup.INFLUX_INGEST_PASSWORD,
    ]);
    expect([api.INFLUX_API_USER, api.INFLUX_API_PASSWORD]).toEqual([
      setup.INFLUX_API_USER,
      setup.INFLUX_API_PASSWORD,
    ]);
  });

  it('reads the one-line JWT key from .env as a PEM key', () => {
    const { api } = deployment();
    expect(api.JWT_PRIVATE_KEY).toMatch(
      /^-----BEGIN PRIVATE KEY-----\n[^\\]+-----END PRIVATE KEY-----\n$/,
    );
  });

  it('refuses to start while a secret is still empty', () => {
    const unfilled = new Map(envExample.active);
    expect(() => resolvedEnvironment('api', unfilled)).toThrow(/required variable/);
  });
});

describe('package.json', () => {
  // npm lists every installed package with an install script that allowScripts does not name;
  // a new dependency's script must be decided on (allowed or denied) before it lands.
  it('names every package that may run an install script, and nothing is left undecided', () => {
    const allowed = (JSON.parse(read('package.json')) as { allowScripts?: object }).allowScripts;
    expect(allowed).toEqual({ esbuild: true });
    const listing = execFileSync('npm', ['install-scripts', 'ls'], {
      cwd: new URL('../../', import.meta.url),
      encoding: 'utf8',
    });
    expect(listing.trim()).toBe('No packages with unreviewed install scripts.');
  });
});
