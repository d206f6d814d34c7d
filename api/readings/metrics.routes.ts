import { z } from 'zod';
import type { MetricUnitsService } from '../../directory/organisations/metric-units.service.js';
import { defineRoute, type Route } from '../http/route.js';
import { metricName, orgParams } from '../http/params.js';
import type { ReadingsService } from './readings.service.js';

export interface MetricsRoutesDeps {
  readingsService: Pick<ReadingsService, 'metricCatalogue'>;
  metricUnitsService: Pick<MetricUnitsService, 'describe'>;
}

/**
 * Units an organisation may choose: SI and common derived units, as short printable strings.
 * An allowlist keeps the catalogue a catalogue, not free text shown to every member.
 */
export const METRIC_UNITS = [
  '',
  '%',
  '°C',
  '°F',
  'K',
  'Pa',
  'hPa',
  'kPa',
  'bar',
  'mbar',
  'V',
  'mV',
  'A',
  'mA',
  'W',
  'kW',
  'Wh',
  'kWh',
  'Hz',
  'lx',
  'ppm',
  'ppb',
  'µg/m³',
  'mg/m³',
  'dB',
  'dBm',
  'm',
  'cm',
  'mm',
  'km',
  'm/s',
  'km/h',
  'l',
  'ml',
  'm³',
  'l/min',
  'm³/h',
  'g',
  'kg',
  't',
  's',
  'min',
  'h',
  '°',
  'pH',
  'µS/cm',
  'mS/cm',
  'NTU',
  'count',
] as const;

const metricParams = orgParams.extend({ metric: metricName });
const describeBody = z.strictObject({
  unit: z.enum(METRIC_UNITS),
  label: z
    .string()
    .trim()
    .min(1)
    .max(64)
    .regex(/^[^\p{Cc}]*$/u, 'must not contain control characters'),
});
const metricEntry = z.object({
  metric: z.string(),
  unit: z.string().nullable(),
  label: z.string().nullable(),
  /** Whether the organisation's devices have readings of it (raw or rollups). */
  reported: z.boolean(),
});

/** The metric catalogue: what the organisation's devices report, with its units and labels. */
export function metricsRoutes(deps: MetricsRoutesDeps): Route[] {
  return [
    defineRoute(
      {
        method: 'get',
        path: '/orgs/:orgId/metrics',
        summary:
          "The metrics the organisation's devices report, with the units and labels it gave them",
        tag: 'metrics',
        access: { kind: 'org', minRole: 'viewer' },
        params: orgParams,
        response: z.object({ metrics: z.array(metricEntry), units: z.array(z.string()) }),
      },
      async ({ org }) => ({
        metrics: await deps.readingsService.metricCatalogue(org),
        units: [...METRIC_UNITS],
      }),
    ),
    defineRoute(
      {
        method: 'put',
        path: '/orgs/:orgId/metrics/:metric',
        summary: 'Set the unit and label of a metric',
        tag: 'metrics',
        access: { kind: 'org', minRole: 'admin' },
        params: metricParams,
        body: describeBody,
        response: metricEntry.omit({ reported: true }),
      },
      async ({ org, params, body, userId }) => {
        const description = { metric: params.metric, unit: body.unit, label: body.label };
        await deps.metricUnitsService.describe(userId, org.orgId, description);
        return description;
      },
    ),
  ];
}
