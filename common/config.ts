import { z } from 'zod';

/** Thrown when the environment does not satisfy a component's schema; lists every bad key. */
export class ConfigError extends Error {
  constructor(
    readonly component: string,
    readonly problems: readonly string[],
  ) {
    super(`Invalid ${component} configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses `env` with a component's schema. zod collects every issue before failing, so an
 * operator sees all wrong keys in one start-up attempt instead of fixing them one by one.
 */
export function loadConfig<S extends z.ZodType>(
  component: string,
  schema: S,
  env: Record<string, string | undefined>,
): z.output<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const key = issue.path.join('.') || '(environment)';
    return `${key}: ${issue.message}`;
  });
  throw new ConfigError(component, problems);
}

/** Building blocks shared by the component schemas, so each key means the same everywhere. */
export const env = {
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  host: (fallback: string) => z.string().min(1).default(fallback),
  url: (protocols: readonly string[]) =>
    z.url().refine((value) => URL.canParse(value) && protocols.includes(new URL(value).protocol), {
      message: `must use ${protocols.join(' or ')}`,
    }),
  secret: (minLength = 12) => z.string().min(minLength, `must be at least ${minLength} characters`),
  name: () => z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'must match ^[a-z][a-z0-9_]{0,62}$'),
  logLevel: () =>
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /**
   * Days InfluxDB keeps raw readings. Set-up's retention policy, the broker's oldest accepted
   * reading and the API's choice of storage tier read this one key: a reading the broker
   * accepts must not be expired on arrival.
   */
  rawRetentionDays: () => z.coerce.number().int().min(1).max(3650).default(30),
  duration: (fallbackMs: number) => z.coerce.number().int().positive().default(fallbackMs),
};

/**
 * Loads several components' configurations from one environment (the all-in-one local
 * start-up) and reports the problems of all of them together, each key once.
 */
export function loadConfigs<T extends Record<string, z.ZodType>>(
  schemas: T,
  env: Record<string, string | undefined>,
): { [K in keyof T]: z.output<T[K]> } {
  const problems = new Set<string>();
  const configs: Record<string, unknown> = {};
  for (const [component, schema] of Object.entries(schemas)) {
    try {
      configs[component] = loadConfig(component, schema, env);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      err.problems.forEach((p) => problems.add(p));
    }
  }
  if (problems.size > 0) throw new ConfigError(Object.keys(schemas).join(' + '), [...problems]);
  return configs as { [K in keyof T]: z.output<T[K]> };
}
