import { z } from 'zod';
import { AppError } from '../../common/errors.js';
import { READING_FUTURE_SLACK_MS } from '../../common/limits.js';
import { deviceIdPattern, metricPattern } from '../../common/ids.js';
import type {
  AuditAction,
  AuditLogRepository,
} from '../../directory/accounts/audit-log.repository.js';
import type {
  Device,
  DevicePosition,
  DeviceStatus,
} from '../../directory/devices/devices.repository.js';
import type { Presence } from '../../influx/presence.reader.js';
import type {
  ManyAggregateQuery,
  AggregateRow,
  LatestRow,
  ReadingRow,
  ReadingsRange,
} from '../../influx/readings.reader.js';
import { decodeCursor, limitParam, pageOf } from '../http/page-cursor.js';
import { defineRoute, type Route } from '../http/route.js';
import { deviceParams, isoTime, orgParams, pageQuery } from '../http/params.js';

export interface DevicesRoutesDeps {
  devices: {
    listForOrg(orgId: string): Promise<Device[]>;
    findInOrg(orgId: string, deviceId: string): Promise<Device | null>;
    findManyInOrg(orgId: string, deviceIds: readonly string[]): Promise<Device[]>;
    pageForOrg(orgId: string, page: { limit: number; after?: DevicePosition }): Promise<Device[]>;
    provision(orgId: string, displayName: string): Promise<{ device: Device; secret: string }>;
    rename(orgId: string, deviceId: string, displayName: string): Promise<Device | null>;
    setStatus(orgId: string, deviceId: string, status: DeviceStatus): Promise<Device | null>;
    rotateSecret(
      orgId: string,
      deviceId: string,
    ): Promise<{ device: Device; secret: string } | null>;
    remove(orgId: string, deviceId: string): Promise<boolean>;
  };
  readings: {
    list(range: ReadingsRange): Promise<ReadingRow[]>;
    aggregateMany(query: ManyAggregateQuery): Promise<Map<string, AggregateRow[]>>;
    latest(tenantKey: string): Promise<LatestRow[]>;
    lastReadingTime(tenantKey: string, deviceKey: string): Promise<number | null>;
  };
  presence: { latest(tenantKey: string, deviceKey: string): Promise<Presence | null> };
  auditLog: Pick<AuditLogRepository, 'record'>;
  /** Where devices reach the broker (MQTT_PUBLIC_URL), for the example command. */
  mqttPublicUrl: string;
  now?: () => number;
}

const readingsQuery = z.strictObject({
  metric: z.string().regex(metricPattern).optional(),
  from: isoTime.optional(),
  to: isoTime.optional(),
  limit: limitParam(10_000, 1000),
});
const devicePosition = z.tuple([z.string().min(1).max(200), z.string().regex(deviceIdPattern)]);

/** What people call a device: one line of printable text. */
const deviceName = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .regex(/^[^\p{Cc}]*$/u, 'must not contain control characters');
const nameBody = z.strictObject({ name: deviceName });

/** At most this many devices in one readings request: one InfluxDB query each. */
const MAX_DEVICES_PER_REQUEST = 50;
const deviceList = z
  .string()
  .max(MAX_DEVICES_PER_REQUEST * 65)
  .transform((value) => [...new Set(value.split(','))])
  .pipe(z.array(z.string().regex(deviceIdPattern)).min(1).max(MAX_DEVICES_PER_REQUEST));
const windowParam = z.enum(['raw', '1m', '1h', '1d']);
const manyReadingsQuery = z.strictObject({
  devices: deviceList,
  metric: z.string().regex(metricPattern),
  from: isoTime.optional(),
  to: isoTime.optional(),
  window: windowParam.default('1h'),
  /** Raw readings per device, newest first; aggregates always cover the whole range. */
  limit: limitParam(10_000, 1000),
});

const deviceSummary = z.object({
  id: z.string(),
  name: z.string(),
  status: z.enum(['active', 'disabled']),
});
const deviceDetails = deviceSummary.extend({
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
const withPresence = deviceDetails.extend({
  /** Whether the broker's last record for the device is a connection. */
  connected: z.boolean(),
  /** The later of the last connection change and the newest reading. */
  lastSeen: z.iso.datetime().nullable(),
  lastReadingAt: z.iso.datetime().nullable(),
});
const withSecret = z.object({
  device: deviceDetails,
  /** Shown this once; only its hash is kept. */
  secret: z.string(),
  /** A command that publishes one reading with the new secret. */
  mosquittoPub: z.string(),
});
const reading = z.object({
  time: z.iso.datetime(),
  metric: z.string(),
  value: z.union([z.number(), z.boolean()]),
});
const aggregatePoint = z.object({
  time: z.iso.datetime(),
  min: z.number().nullable(),
  max: z.number().nullable(),
  mean: z.number().nullable(),
  count: z.number().int(),
});
const rawPoint = z.object({ time: z.iso.datetime(), value: z.union([z.number(), z.boolean()]) });

const DAY_MS = 86_400_000;
const iso = (ms: number | Date) => new Date(ms).toISOString();

function details(device: Device) {
  return {
    id: device.id,
    name: device.displayName,
    status: device.status,
    createdAt: iso(device.createdAt),
    updatedAt: iso(device.updatedAt),
  };
}

/**
 * `mosquitto_pub` publishing one reading as the device. Ids and secrets are drawn from
 * shell-safe alphabets, so single quotes suffice.
 */
export function mosquittoPubExample(brokerUrl: string, deviceId: string, secret: string): string {
  const url = new URL(brokerUrl);
  const tls = url.protocol === 'mqtts:';
  const port = url.port || (tls ? '8883' : '1883');
  return [
    `mosquitto_pub -h '${url.hostname}' -p ${port}${tls ? ' --capath /etc/ssl/certs' : ''} -q 1`,
    `-i '${deviceId}' -u '${deviceId}' -P '${secret}'`,
    `-t 'devices/${deviceId}/telemetry' -m '{"readings": {"temperature": 21.5}}'`,
  ].join(' ');
}

/** Devices and their readings, for members of the organisation that owns them (P2). */
export function devicesRoutes(deps: DevicesRoutesDeps): Route[] {
  /** Scoped by organisation, so another organisation's device answers as a missing one. */
  async function deviceOf(orgId: string, deviceId: string): Promise<Device> {
    const device = await deps.devices.findInOrg(orgId, deviceId);
    if (!device) throw new AppError('NOT_FOUND');
    return device;
  }

  const found = (device: Device | null): Device => {
    if (!device) throw new AppError('NOT_FOUND');
    return device;
  };

  /** Device changes go to the acting admin's own history (P11). */
  const audit = (userId: string, action: AuditAction, orgId: string, deviceId: string) =>
    deps.auditLog.record({ userId, actorUserId: userId, action, details: { orgId, deviceId } });

  function rangeOf(query: { from?: string; to?: string }): { from: Date; to: Date } {
    const to = query.to
      ? new Date(query.to)
      : new Date((deps.now ?? Date.now)() + READING_FUTURE_SLACK_MS);
    const from = query.from ? new Date(query.from) : new Date(to.getTime() - DAY_MS);
    if (from >= to) {
      throw new AppError('VALIDATION_FAILED', [{ path: 'from', message: 'must be before to' }]);
    }
    return { from, to };
  }

  const secretAnswer = ({ device, secret }: { device: Device; secret: string }) => ({
    device: details(device),
    secret,
    mosquittoPub: mosquittoPubExample(deps.mqttPublicUrl, device.id, secret),
  });

  const statusRoute = (action: 'disable' | 'enable') =>
    defineRoute(
      {
        method: 'post',
        path: `/orgs/:orgId/devices/:deviceId/${action}`,
        summary:
          action === 'disable'
            ? 'Disable a device: the broker refuses it and drops its session within seconds'
            : 'Enable a disabled device again',
        tag: 'devices',
        access: { kind: 'org', minRole: 'admin' },
        params: deviceParams,
        response: deviceDetails,
      },
      async ({ org, params, userId }) => {
        const status = action === 'disable' ? 'disabled' : 'active';
        const device = found(await deps.devices.setStatus(org.orgId, params.deviceId, status));
        await audit(userId, `device.${action}d`, org.orgId, device.id);
        return details(device);
      },
    );

  return [
    defineRoute(
      {
        method: 'get',
        path: '/orgs/:orgId/devices',
        summary: "The organisation's devices by name, a page at a time",
        tag: 'devices',
        access: { kind: 'org', minRole: 'viewer' },
        params: orgParams,
        query: pageQuery,
        response: z.object({ devices: z.array(deviceSummary), nextCursor: z.string().nullable() }),
      },
      async ({ org, query }) => {
        const after = query.cursor ? decodeCursor(devicePosition, query.cursor) : undefined;
        const rows = await deps.devices.pageForOrg(org.orgId, {
          limit: query.limit + 1,
          ...(after ? { after: { name: after[0], id: after[1] } } : {}),
        });
        const page = pageOf(rows, query.limit, (d) => [d.displayName, d.id]);
        return {
          devices: page.items.map((d) => ({ id: d.id, name: d.displayName, status: d.status })),
          nextCursor: page.nextCursor,
        };
      },
    ),
    defineRoute(
      {
        method: 'post',
        path: '/orgs/:orgId/devices',
        summary: 'Register a device; its secret is in this answer and never again',
        tag: 'devices',
        access: { kind: 'org', minRole: 'admin' },
        params: orgParams,
        body: nameBody,
        response: withSecret,
        status: 201,
      },
      async ({ org, body, userId }) => {
        const provisioned = await deps.devices.provision(org.orgId, body.name);
        await audit(userId, 'device.created', org.orgId, provisioned.device.id);
        return secretAnswer(provisioned);
      },
    ),
    defineRoute(
      {
        method: 'get',
        path: '/orgs/:orgId/devices/:deviceId',
        summary: 'A device, whether it is connected, and when it was last seen',
        tag: 'devices',
        access: { kind: 'org', minRole: 'viewer' },
        params: deviceParams,
        response: withPresence,
      },
      async ({ org, params }) => {
        const device = await deviceOf(org.orgId, params.deviceId);
        const [presence, lastReading] = await Promise.all([
          deps.presence.latest(org.tenantKey, device.pseudonym),
          deps.readings.lastReadingTime(org.tenantKey, device.pseudonym),
        ]);
        const seen = [presence?.since, lastReading].filter((t): t is number => t != null);
        return {
          ...details(device),
          connected: presence?.connected ?? false,
          lastSeen: seen.length > 0 ? iso(Math.max(...seen)) : null,
          lastReadingAt: lastReading === null ? null : iso(lastReading),
        };
      },
    ),
    defineRoute(
      {
        method: 'patch',
        path: '/orgs/:orgId/devices/:deviceId',
        summary: 'Rename a device',
        tag: 'devices',
        access: { kind: 'org', minRole: 'admin' },
        params: deviceParams,
        body: nameBody,
        response: deviceDetails,
      },
      async ({ org, params, body, userId }) => {
        const device = found(await deps.devices.rename(org.orgId, params.deviceId, body.name));
        await audit(userId, 'device.renamed', org.orgId, device.id);
        return details(device);
      },
    ),
    defineRoute(
      {
        method: 'post',
        path: '/orgs/:orgId/devices/:deviceId/rotate-secret',
        summary:
          'Give a device a new secret, shown once; the broker drops a session signed in with the old one within seconds',
        tag: 'devices',
        access: { kind: 'org', minRole: 'admin' },
        params: deviceParams,
        response: withSecret,
      },
      async ({ org, params, userId }) => {
        const rotated = await deps.devices.rotateSecret(org.orgId, params.deviceId);
        if (!rotated) throw new AppError('NOT_FOUND');
        await audit(userId, 'device.secret_rotated', org.orgId, rotated.device.id);
        return secretAnswer(rotated);
      },
    ),
    statusRoute('disable'),
    statusRoute('enable'),
    defineRoute(
      {
        method: 'delete',
        path: '/orgs/:orgId/devices/:deviceId',
        summary:
          "Delete a device and its credentials; its readings stay in InfluxDB until the organisation's telemetry is deleted",
        tag: 'devices',
        access: { kind: 'org', minRole: 'admin' },
        params: deviceParams,
        status: 204,
      },
      async ({ org, params, userId }) => {
        if (!(await deps.devices.remove(org.orgId, params.deviceId))) {
          throw new AppError('NOT_FOUND');
        }
        await audit(userId, 'device.deleted', org.orgId, params.deviceId);
        return undefined;
      },
    ),
    defineRoute(
      {
        method: 'get',
        path: '/orgs/:orgId/devices/:deviceId/readings',
        summary: "A device's raw readings, newest first, joined with its name",
        tag: 'readings',
        access: { kind: 'org', minRole: 'viewer' },
        params: deviceParams,
        query: readingsQuery,
        response: z.object({
          device: z.object({ id: z.string(), name: z.string() }),
          readings: z.array(reading),
        }),
      },
      async ({ org, params, query }) => {
        const device = await deviceOf(org.orgId, params.deviceId);
        const { from, to } = rangeOf(query);
        const rows = await deps.readings.list({
          tenantKey: org.tenantKey,
          deviceKey: device.pseudonym,
          ...(query.metric ? { metric: query.metric } : {}),
          from,
          to,
          limit: query.limit,
        });
        return {
          device: { id: device.id, name: device.displayName },
          readings: rows.map((r) => ({ time: iso(r.time), metric: r.metric, value: r.value })),
        };
      },
    ),
    defineRoute(
      {
        method: 'get',
        path: '/orgs/:orgId/readings',
        summary:
          'One metric of several devices: raw readings (newest first) or min/max/mean/count per 1m, 1h or 1d window (oldest first)',
        tag: 'readings',
        access: { kind: 'org', minRole: 'viewer' },
        params: orgParams,
        query: manyReadingsQuery,
        response: z.object({
          window: windowParam,
          from: z.iso.datetime(),
          to: z.iso.datetime(),
          devices: z.array(
            z.object({
              id: z.string(),
              name: z.string(),
              metric: z.string(),
              points: z.array(z.union([aggregatePoint, rawPoint])),
            }),
          ),
        }),
      },
      async ({ org, query }) => {
        const { from, to } = rangeOf(query);
        const owned = await deps.devices.findManyInOrg(org.orgId, query.devices);
        // Another organisation's id answers exactly like an unknown one.
        if (owned.length !== query.devices.length) throw new AppError('NOT_FOUND');
        const byId = new Map(owned.map((d) => [d.id, d]));
        const devices = query.devices.map((id) => byId.get(id)!);
        const { metric, window } = query;
        const keys = { tenantKey: org.tenantKey, metric, from, to };
        const aggregates =
          window === 'raw'
            ? null
            : await aggregateOrRefuse(deps, {
                ...keys,
                window,
                deviceKeys: devices.map((d) => d.pseudonym),
              });
        const series = await Promise.all(
          devices.map(async (device) => {
            const points = aggregates
              ? aggregates.get(device.pseudonym)!.map((r) => ({ ...r, time: iso(r.time) }))
              : (
                  await deps.readings.list({
                    ...keys,
                    deviceKey: device.pseudonym,
                    limit: query.limit,
                  })
                ).map((r) => ({ time: iso(r.time), value: r.value }));
            return { id: device.id, name: device.displayName, metric, points };
          }),
        );
        return { window, from: iso(from), to: iso(to), devices: series };
      },
    ),
    defineRoute(
      {
        method: 'get',
        path: '/orgs/:orgId/latest',
        summary: 'The newest value of each metric of each device',
        tag: 'readings',
        access: { kind: 'org', minRole: 'viewer' },
        params: orgParams,
        response: z.object({
          devices: z.array(
            z.object({
              id: z.string(),
              name: z.string(),
              status: z.enum(['active', 'disabled']),
              readings: z.array(reading),
            }),
          ),
        }),
      },
      async ({ org }) => {
        const [devices, latest] = await Promise.all([
          deps.devices.listForOrg(org.orgId),
          deps.readings.latest(org.tenantKey),
        ]);
        const byPseudonym = new Map<string, LatestRow[]>();
        for (const row of latest) {
          byPseudonym.set(row.deviceKey, [...(byPseudonym.get(row.deviceKey) ?? []), row]);
        }
        // Readings of devices deleted from the directory are under pseudonyms nothing names.
        return {
          devices: devices.map((d) => ({
            id: d.id,
            name: d.displayName,
            status: d.status,
            readings: (byPseudonym.get(d.pseudonym) ?? [])
              .sort((a, b) => a.metric.localeCompare(b.metric))
              .map((r) => ({ time: iso(r.time), metric: r.metric, value: r.value })),
          })),
        };
      },
    ),
  ];
}

/** The reader refuses ranges it cannot answer (too many windows) before it queries: a 400. */
async function aggregateOrRefuse(
  deps: DevicesRoutesDeps,
  query: ManyAggregateQuery,
): Promise<Map<string, AggregateRow[]>> {
  try {
    return await deps.readings.aggregateMany(query);
  } catch (err) {
    if (err instanceof RangeError) {
      throw new AppError('VALIDATION_FAILED', [{ path: 'window', message: err.message }]);
    }
    throw err;
  }
}
