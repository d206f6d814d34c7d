import { z } from 'zod';
import { limitParam } from '../http/page-cursor.js';
import { deviceIdList, deviceParams, isoTime, metricName, orgParams } from '../http/params.js';
import { defineRoute, type Route } from '../http/route.js';
import {
  LATEST_LOOKBACK_HOURS,
  RAW_WINDOW_MAX_HOURS,
  type ReadingsService,
} from './readings.service.js';

export interface ReadingsRoutesDeps {
  readingsService: Pick<ReadingsService, 'deviceReadings' | 'manyReadings' | 'latest'>;
}

const readingsQuery = z.strictObject({
  metric: metricName.optional(),
  from: isoTime.optional(),
  to: isoTime.optional(),
  limit: limitParam(10_000, 1000),
});
/** At most this many devices in one readings request: raw readings are one query each. */
const MAX_DEVICES_PER_REQUEST = 50;
const windowParam = z.enum(['raw', '1m', '1h', '1d']);
const manyReadingsQuery = z.strictObject({
  devices: deviceIdList(MAX_DEVICES_PER_REQUEST),
  metric: metricName,
  from: isoTime.optional(),
  to: isoTime.optional(),
  window: windowParam.default('1h'),
  /** Raw readings per device, newest first; aggregates always cover the whole range. */
  limit: limitParam(10_000, 1000),
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

const iso = (ms: number) => new Date(ms).toISOString();

/** Readings of the organisation's devices, joined with their ids and names (P2). */
export function readingsRoutes(deps: ReadingsRoutesDeps): Route[] {
  return [
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
        const { device, readings } = await deps.readingsService.deviceReadings(
          org,
          params.deviceId,
          query,
        );
        return {
          device: { id: device.id, name: device.displayName },
          readings: readings.map((r) => ({ time: iso(r.time), metric: r.metric, value: r.value })),
        };
      },
    ),
    defineRoute(
      {
        method: 'get',
        path: '/orgs/:orgId/readings',
        summary: `One metric of several devices: raw readings (newest first, over at most ${RAW_WINDOW_MAX_HOURS} hours) or min/max/mean/count per 1m, 1h or 1d window (oldest first)`,
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
        const { from, to, series } = await deps.readingsService.manyReadings(org, {
          ...query,
          deviceIds: query.devices,
        });
        return {
          window: query.window,
          from: iso(from),
          to: iso(to),
          devices: series.map(({ device, points }) => ({
            id: device.id,
            name: device.displayName,
            metric: query.metric,
            points: points.map((p) => ({ ...p, time: iso(p.time) })),
          })),
        };
      },
    ),
    defineRoute(
      {
        method: 'get',
        path: '/orgs/:orgId/latest',
        summary: `The newest value of each metric of each device, of the readings taken in the last ${LATEST_LOOKBACK_HOURS} hours`,
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
      async ({ org }) => ({
        devices: (await deps.readingsService.latest(org)).map(({ device, readings }) => ({
          id: device.id,
          name: device.displayName,
          status: device.status,
          readings: readings.map((r) => ({ time: iso(r.time), metric: r.metric, value: r.value })),
        })),
      }),
    ),
  ];
}
