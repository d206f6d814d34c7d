import { Router, type Request } from 'express';
import { z } from 'zod';
import { AppError } from '../common/errors.js';
import { deviceIdPattern, metricPattern } from '../common/ids.js';
import type { Device } from '../directory/devices.repository.js';
import type { Role } from '../directory/users.repository.js';
import type { ReadingRow, ReadingsRange } from '../influx/readings.reader.js';
import { parse, route, userOf } from './http.js';

export interface DevicesRoutesDeps {
  organisations: {
    membership(orgId: string, userId: string): Promise<{ role: Role; tenantKey: string } | null>;
  };
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

const DAY_MS = 86_400_000;
/** Devices may stamp readings up to five minutes ahead (docs/devices.md). */
const FUTURE_SLACK_MS = 5 * 60_000;

export function devicesRoutes(deps: DevicesRoutesDeps): Router {
  const router = Router({ mergeParams: true });
  const now = deps.now ?? Date.now;

  /**
   * Membership is resolved from Postgres on every request. A non-member gets the same 404 as
   * for an organisation that does not exist, so ids of other organisations reveal nothing.
   */
  async function membershipOf(req: Request) {
    const { orgId } = parse(orgParams, req.params);
    const membership = await deps.organisations.membership(orgId, userOf(req));
    if (!membership) throw new AppError('NOT_FOUND');
    return { orgId, ...membership };
  }

  router.get(
    '/',
    route(async (req, res) => {
      const { orgId } = await membershipOf(req);
      const devices = await deps.devices.listForOrg(orgId);
      res.json({
        devices: devices.map((d) => ({ id: d.id, name: d.displayName, status: d.status })),
      });
    }),
  );

  router.get(
    '/:deviceId/readings',
    route(async (req, res) => {
      const { orgId, tenantKey } = await membershipOf(req);
      const { deviceId } = parse(deviceParams, req.params);
      const query = parse(readingsQuery, req.query);
      const device = await deps.devices.findInOrg(orgId, deviceId);
      if (!device) throw new AppError('NOT_FOUND');
      const to = query.to ? new Date(query.to) : new Date(now() + FUTURE_SLACK_MS);
      const from = query.from ? new Date(query.from) : new Date(to.getTime() - DAY_MS);
      if (from >= to)
        throw new AppError('VALIDATION_FAILED', [{ path: 'from', message: 'must be before to' }]);
      const rows = await deps.readings.list({
        tenantKey,
        deviceKey: device.pseudonym,
        ...(query.metric ? { metric: query.metric } : {}),
        from,
        to,
        limit: query.limit,
      });
      res.json({
        device: { id: device.id, name: device.displayName },
        readings: rows.map((r) => ({
          time: new Date(r.time).toISOString(),
          metric: r.metric,
          value: r.value,
        })),
      });
    }),
  );

  return router;
}
