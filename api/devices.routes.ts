import { z } from 'zod';
import { AppError } from '../common/errors.js';
import { deviceIdPattern, metricPattern } from '../common/ids.js';
import type { Device } from '../directory/devices.repository.js';
import type { ReadingRow, ReadingsRange } from '../influx/readings.reader.js';
import { defineRoute, type Route } from './route.js';

export interface DevicesRoutesDeps {
  devices: {
    listForOrg(orgId: string): Promise<Device[]>;
    findInOrg(orgId: string, deviceId: string): Promise<Device | null>;
  };
  readings: { list(range: ReadingsRange): Promise<ReadingRow[]> };
  now?: () => number;
}

const orgParams = z.object({ orgId: z.uuid() });
const deviceParams = orgParams.extend({ deviceId: z.string().regex(deviceIdPattern) });
const readingsQuery = z.strictObject({
  metric: z.string().regex(metricPattern).optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
});

const deviceSummary = z.object({
  id: z.string(),
  name: z.string(),
  status: z.enum(['active', 'disabled']),
});
const reading = z.object({
  time: z.iso.datetime(),
  metric: z.string(),
  value: z.union([z.number(), z.boolean()]),
});

const DAY_MS = 86_400_000;
/** Devices may stamp readings up to five minutes ahead (docs/devices.md). */
const FUTURE_SLACK_MS = 5 * 60_000;

/** Devices and their readings, for members of the organisation that owns them (P2). */
export function devicesRoutes(deps: DevicesRoutesDeps): Route[] {
  const now = deps.now ?? Date.now;

  /** Scoped by organisation, so another organisation's device answers as a missing one. */
  async function deviceOf(orgId: string, deviceId: string): Promise<Device> {
    const device = await deps.devices.findInOrg(orgId, deviceId);
    if (!device) throw new AppError('NOT_FOUND');
    return device;
  }

  return [
    defineRoute(
      {
        method: 'get',
        path: '/orgs/:orgId/devices',
        summary: "The organisation's devices",
        tag: 'devices',
        access: { kind: 'org', minRole: 'viewer' },
        params: orgParams,
        response: z.object({ devices: z.array(deviceSummary) }),
      },
      async ({ org }) => ({
        devices: (await deps.devices.listForOrg(org.orgId)).map((d) => ({
          id: d.id,
          name: d.displayName,
          status: d.status,
        })),
      }),
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
        const to = query.to ? new Date(query.to) : new Date(now() + FUTURE_SLACK_MS);
        const from = query.from ? new Date(query.from) : new Date(to.getTime() - DAY_MS);
        if (from >= to) {
          throw new AppError('VALIDATION_FAILED', [{ path: 'from', message: 'must be before to' }]);
        }
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
          readings: rows.map((r) => ({
            time: new Date(r.time).toISOString(),
            metric: r.metric,
            value: r.value,
          })),
        };
      },
    ),
  ];
}
