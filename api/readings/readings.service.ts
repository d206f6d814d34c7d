import { AppError } from '../../common/errors.js';
import { READING_FUTURE_SLACK_MS } from '../../common/limits.js';
import type { Device } from '../../directory/devices/devices.repository.js';
import type { MetricDescription } from '../../directory/organisations/metric-units.repository.js';
import type { Telemetry } from '../../influx/tenant-telemetry.js';
import type {
  AggregateRow,
  AggregateWindow,
  LatestRow,
  ReadingRow,
} from '../../influx/readings.reader.js';
import { HOUR_MS, DAY_MS } from '../../common/time.js';

/** The organisation a request acts for, as the route's access check resolved it. */
export interface TenantOf {
  orgId: string;
  tenantKey: string;
}

export interface ReadingsServiceDeps {
  devices: {
    listForOrg(orgId: string): Promise<Device[]>;
    findInOrg(orgId: string, deviceId: string): Promise<Device | null>;
    findManyInOrg(orgId: string, deviceIds: readonly string[]): Promise<Device[]>;
  };
  metricUnits: { listForOrg(orgId: string): Promise<MetricDescription[]> };
  telemetry: Telemetry;
  now?: () => number;
}

export interface TimeRange {
  from?: string | undefined;
  to?: string | undefined;
}

export interface DeviceStatusAnswer {
  device: Device;
  connected: boolean;
  /** The later of the last connection change and the newest reading. */
  lastSeen: number | null;
  lastReadingAt: number | null;
}

export interface Series {
  device: Device;
  points: AggregateRow[] | Omit<ReadingRow, 'metric'>[];
}

/**
 * The longest range of raw readings one request may ask for: each device's readings are a
 * query of their own, so without a bound 50 devices may each scan the whole raw retention.
 * Longer ranges take an aggregate window, which the rollups answer at a bounded cost.
 */
export const RAW_WINDOW_MAX_HOURS = 24;
/**
 * How far back `latest` looks: a value older than this is no device's latest any more, and
 * the bound keeps the scan to the newest shards instead of all that the raw retention holds.
 */
export const LATEST_LOOKBACK_HOURS = 48;

/**
 * Where the directory and telemetry meet: a device id becomes its pseudonym, the pseudonym's
 * readings come from the tenant's telemetry, and the answer carries the device's id and name
 * again. Only members of the organisation that owns the devices get here (P2); a device of
 * another organisation is looked up in this organisation and so answers as a missing one.
 */
export class ReadingsService {
  constructor(private readonly deps: ReadingsServiceDeps) {}

  /** A device, whether it is connected, and when it was last seen. */
  async deviceStatus(org: TenantOf, deviceId: string): Promise<DeviceStatusAnswer> {
    const device = await this.deviceOf(org, deviceId);
    const telemetry = this.deps.telemetry.forTenant(org.tenantKey);
    const [presence, lastReadingAt] = await Promise.all([
      telemetry.presence.latest(device.pseudonym),
      telemetry.readings.lastReadingTime(device.pseudonym),
    ]);
    const seen = [presence?.since, lastReadingAt].filter((t): t is number => t != null);
    return {
      device,
      connected: presence?.connected ?? false,
      lastSeen: seen.length > 0 ? Math.max(...seen) : null,
      lastReadingAt,
    };
  }

  /** A device's raw readings, newest first; by default those of the last day. */
  async deviceReadings(
    org: TenantOf,
    deviceId: string,
    query: TimeRange & { metric?: string | undefined; limit: number },
  ): Promise<{ device: Device; readings: ReadingRow[] }> {
    const device = await this.deviceOf(org, deviceId);
    const readings = await this.deps.telemetry.forTenant(org.tenantKey).readings.list({
      deviceKey: device.pseudonym,
      ...(query.metric ? { metric: query.metric } : {}),
      ...this.rangeOf(query),
      limit: query.limit,
    });
    return { device, readings };
  }

  /**
   * One metric of several devices: raw readings (newest first, `limit` per device) or
   * min/max/mean/count per window (oldest first, the whole range). Devices keep the order asked.
   * Raw readings span at most RAW_WINDOW_MAX_HOURS.
   */
  async manyReadings(
    org: TenantOf,
    query: TimeRange & {
      deviceIds: readonly string[];
      metric: string;
      window: 'raw' | AggregateWindow;
      limit: number;
    },
  ): Promise<{ from: number; to: number; series: Series[] }> {
    const { from, to } = this.rangeOf(query);
    if (query.window === 'raw' && to.getTime() - from.getTime() > RAW_WINDOW_MAX_HOURS * HOUR_MS) {
      throw new AppError('VALIDATION_FAILED', [
        {
          path: 'from',
          message: `a raw window spans at most ${RAW_WINDOW_MAX_HOURS} hours; for longer ranges choose 1m, 1h or 1d`,
        },
      ]);
    }
    const owned = await this.deps.devices.findManyInOrg(org.orgId, query.deviceIds);
    if (owned.length !== query.deviceIds.length) throw new AppError('NOT_FOUND');
    const byId = new Map(owned.map((d) => [d.id, d]));
    const devices = query.deviceIds.map((id) => byId.get(id)!);
    const { metric, window } = query;
    const readings = this.deps.telemetry.forTenant(org.tenantKey).readings;
    const range = { metric, from, to };
    if (window !== 'raw') {
      // One statement for all devices; refused before it runs when it has too many windows.
      const aggregates = await readings.aggregateMany({
        ...range,
        window,
        deviceKeys: devices.map((d) => d.pseudonym),
      });
      const series = devices.map((device) => ({
        device,
        points: aggregates.get(device.pseudonym)!,
      }));
      return { from: from.getTime(), to: to.getTime(), series };
    }
    const series = await Promise.all(
      devices.map(async (device) => ({
        device,
        points: (
          await readings.list({ ...range, deviceKey: device.pseudonym, limit: query.limit })
        ).map(({ time, value }) => ({ time, value })),
      })),
    );
    return { from: from.getTime(), to: to.getTime(), series };
  }

  /**
   * The newest value of each metric of each device, metrics by name, of the readings taken in
   * the last LATEST_LOOKBACK_HOURS.
   */
  async latest(org: TenantOf): Promise<{ device: Device; readings: ReadingRow[] }[]> {
    const since = new Date((this.deps.now ?? Date.now)() - LATEST_LOOKBACK_HOURS * HOUR_MS);
    const [devices, latest] = await Promise.all([
      this.deps.devices.listForOrg(org.orgId),
      this.deps.telemetry.forTenant(org.tenantKey).readings.latest(since),
    ]);
    const byPseudonym = new Map<string, LatestRow[]>();
    for (const row of latest) {
      byPseudonym.set(row.deviceKey, [...(byPseudonym.get(row.deviceKey) ?? []), row]);
    }
    // Readings of devices deleted from the directory are under pseudonyms nothing names.
    return devices.map((device) => ({
      device,
      readings: (byPseudonym.get(device.pseudonym) ?? []).sort((a, b) =>
        a.metric.localeCompare(b.metric),
      ),
    }));
  }

  /**
   * Every metric the organisation's devices reported or its admins described, by name, with
   * its unit and label where one was given.
   */
  async metricCatalogue(org: TenantOf): Promise<
    {
      metric: string;
      unit: string | null;
      label: string | null;
      reported: boolean;
    }[]
  > {
    const [reported, described] = await Promise.all([
      this.deps.telemetry.forTenant(org.tenantKey).readings.metrics(),
      this.deps.metricUnits.listForOrg(org.orgId),
    ]);
    const descriptions = new Map(described.map((d) => [d.metric, d]));
    const seen = new Set(reported);
    return [...new Set([...reported, ...descriptions.keys()])].sort().map((metric) => ({
      metric,
      unit: descriptions.get(metric)?.unit ?? null,
      label: descriptions.get(metric)?.label ?? null,
      reported: seen.has(metric),
    }));
  }

  /** Scoped by organisation, so another organisation's device answers as a missing one. */
  private async deviceOf(org: TenantOf, deviceId: string): Promise<Device> {
    const device = await this.deps.devices.findInOrg(org.orgId, deviceId);
    if (!device) throw new AppError('NOT_FOUND');
    return device;
  }

  /** By default the last day, up to the future slack devices may stamp readings with. */
  private rangeOf(query: TimeRange): { from: Date; to: Date } {
    return timeRange(query, (to) => new Date(to.getTime() - DAY_MS), this.deps.now ?? Date.now);
  }
}

/**
 * A range from a request: `to` defaults to now plus the slack devices may stamp readings
 * ahead with, `from` to what `defaultFrom` makes of `to`; `from` must come first.
 */
export function timeRange(
  query: TimeRange,
  defaultFrom: (to: Date) => Date,
  now: () => number,
): { from: Date; to: Date } {
  const to = query.to ? new Date(query.to) : new Date(now() + READING_FUTURE_SLACK_MS);
  const from = query.from ? new Date(query.from) : defaultFrom(to);
  if (from >= to) {
    throw new AppError('VALIDATION_FAILED', [{ path: 'from', message: 'must be before to' }]);
  }
  return { from, to };
}
