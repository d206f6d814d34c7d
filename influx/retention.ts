import type { InfluxClient, InfluxSeries, QueryParams } from './influx.client.js';
import { identifier } from './influx.setup.js';
import { READINGS_MEASUREMENT } from './line-protocol.js';

/**
 * Readings are kept at full precision for `rawDays` and as 1-minute and 1-hour rollups for
 * `rollupDays`, so long ranges stay cheap to read after the raw points have expired.
 */
export interface RetentionLayout {
  rawDays: number;
  rollupDays: number;
}

/** The DEFAULT policy: ingest writes without `rp`, so its points land here. */
export const RAW_POLICY = 'raw';

export type RollupPolicy = 'rollup_1m' | 'rollup_1h';

export interface Rollup {
  /** Both the continuous query and the measurement it writes into the rollup policy. */
  name: string;
  interval: '1m' | '1h';
  resample: string;
}

export const ROLLUPS: Record<RollupPolicy, Rollup> = {
  // Re-running the last five minutes every minute lets readings up to four minutes late count.
  rollup_1m: { name: 'readings_1m', interval: '1m', resample: 'RESAMPLE EVERY 1m FOR 5m' },
  // An hourly run covering two hours counts readings up to an hour late for twice the scan of a
  // plain hourly CQ; running more often would only refresh the hour still in progress, which
  // long-range reads (the only ones served from here) barely notice.
  rollup_1h: { name: 'readings_1h', interval: '1h', resample: 'RESAMPLE EVERY 1h FOR 2h' },
};

const ROLLUP_POLICIES = Object.keys(ROLLUPS) as RollupPolicy[];

export interface TimeRange {
  from: Date;
  to: Date;
}

/**
 * The SELECT … INTO a rollup's continuous query runs. With a range it covers
 * `from` ≤ time < `to` instead (bound as `$from` / `$to`), to backfill or recompute rollups.
 * Sum and count are stored next to the mean so means over several buckets can be weighted.
 */
export function rollupSelect(
  database: string,
  policy: RollupPolicy,
  range?: TimeRange,
): { statement: string; params?: QueryParams } {
  const db = identifier(database);
  const { name, interval } = ROLLUPS[policy];
  const aggregates = (['min', 'max', 'mean', 'count', 'sum'] as const)
    .map((fn) => `${fn}("value") AS "${fn}"`)
    .join(', ');
  const target = `${db}.${identifier(policy)}.${identifier(name)}`;
  const source = `${db}.${identifier(RAW_POLICY)}.${identifier(READINGS_MEASUREMENT)}`;
  const where = range ? ' WHERE time >= $from AND time < $to' : '';
  const statement =
    `SELECT ${aggregates} INTO ${target} FROM ${source}${where} ` +
    // `*` keeps tenant, device and metric as tags in the rollup instead of turning them into fields.
    `GROUP BY time(${interval}), *`;
  if (!range) return { statement };
  return { statement, params: { from: range.from.toISOString(), to: range.to.toISOString() } };
}

/** Computes a rollup for a past range now, with the same statement its continuous query runs. */
export async function backfillRollup(
  admin: InfluxClient,
  database: string,
  policy: RollupPolicy,
  range: TimeRange,
): Promise<void> {
  const { statement, params } = rollupSelect(database, policy, range);
  await admin.query(statement, { database, params });
}

/**
 * Creates or adjusts the retention policies and continuous queries. Runs with the admin user at
 * every start-up and changes only what differs, so it also applies a changed duration.
 */
export async function setupRetention(
  admin: InfluxClient,
  database: string,
  layout: RetentionLayout,
): Promise<void> {
  // Checked before anything changes, so a bad value cannot leave the policies half-adjusted.
  for (const days of [layout.rawDays, layout.rollupDays]) {
    if (!Number.isSafeInteger(days) || days < 1) {
      throw new RangeError(`retention must be a whole number of days ≥ 1, not ${days}`);
    }
  }
  const policies = await existingPolicies(admin, database);
  // Raw first: making it DEFAULT also takes the flag from whichever policy held it.
  await ensurePolicy(admin, database, policies, { name: RAW_POLICY, days: layout.rawDays });
  for (const policy of ROLLUP_POLICIES) {
    await ensurePolicy(admin, database, policies, { name: policy, days: layout.rollupDays });
  }
  const queries = await existingContinuousQueries(admin, database);
  for (const policy of ROLLUP_POLICIES) {
    await ensureContinuousQuery(admin, database, queries, policy);
  }
}

interface PolicyState {
  duration: string;
  isDefault: boolean;
}

async function existingPolicies(
  admin: InfluxClient,
  database: string,
): Promise<Map<string, PolicyState>> {
  const series = await admin.query(`SHOW RETENTION POLICIES ON ${identifier(database)}`);
  return new Map(
    rowValues(series).map((row) => [
      String(row[0]),
      { duration: String(row[1]), isDefault: row[4] === true },
    ]),
  );
}

async function ensurePolicy(
  admin: InfluxClient,
  database: string,
  existing: ReadonlyMap<string, PolicyState>,
  wanted: { name: string; days: number },
): Promise<void> {
  const isDefault = wanted.name === RAW_POLICY;
  const found = existing.get(wanted.name);
  const target = `${identifier(wanted.name)} ON ${identifier(database)}`;
  const duration = `DURATION ${wanted.days}d`;
  const flag = isDefault ? ' DEFAULT' : '';
  if (!found) {
    await admin.query(`CREATE RETENTION POLICY ${target} ${duration} REPLICATION 1${flag}`);
  } else if (found.duration !== goDuration(wanted.days) || found.isDefault !== isDefault) {
    await admin.query(`ALTER RETENTION POLICY ${target} ${duration}${flag}`);
  }
}

/** SHOW RETENTION POLICIES prints durations as Go does: 30 days is `720h0m0s`. */
function goDuration(days: number): string {
  return `${days * 24}h0m0s`;
}

async function existingContinuousQueries(
  admin: InfluxClient,
  database: string,
): Promise<Map<string, string>> {
  const series = await admin.query('SHOW CONTINUOUS QUERIES');
  const ours = series.filter((s) => s.name === database);
  return new Map(rowValues(ours).map((row) => [String(row[0]), String(row[1])]));
}

/** InfluxDB leaves `values` out of a series without rows, e.g. a database without queries. */
function rowValues(series: InfluxSeries[]): unknown[][] {
  return series.flatMap((s) => s.values ?? []);
}

async function ensureContinuousQuery(
  admin: InfluxClient,
  database: string,
  existing: ReadonlyMap<string, string>,
  policy: RollupPolicy,
): Promise<void> {
  const { name, resample } = ROLLUPS[policy];
  const target = `${identifier(name)} ON ${identifier(database)}`;
  const wanted = `CREATE CONTINUOUS QUERY ${target} ${resample} BEGIN ${rollupSelect(database, policy).statement} END`;
  const found = existing.get(name);
  if (found !== undefined && unquoted(found) === unquoted(wanted)) return;
  // A continuous query cannot be altered in place.
  if (found !== undefined) await admin.query(`DROP CONTINUOUS QUERY ${target}`);
  await admin.query(wanted);
}

/**
 * InfluxDB stores a continuous query re-printed, quoting only identifiers that need it; our
 * identifiers cannot contain quotes, so comparing without any is exact.
 */
function unquoted(statement: string): string {
  return statement.replaceAll('"', '');
}
