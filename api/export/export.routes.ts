import type { Response } from 'express';
import { z } from 'zod';
import { AppError } from '../../common/errors.js';
import { READING_FUTURE_SLACK_MS } from '../../common/limits.js';
import { deviceIdPattern } from '../../common/ids.js';
import type { Device } from '../../directory/devices/devices.repository.js';
import {
  MAX_EXPORT_DEVICES,
  type ExportedReading,
  type ExportRange,
} from '../../influx/readings.export.js';
import { defineRoute, type Route } from '../http/route.js';
import { orgParams } from '../http/params.js';

export interface ExportRoutesDeps {
  devices: { listForOrg(orgId: string): Promise<Device[]> };
  readingsExport: { stream(range: ExportRange): AsyncIterable<ExportedReading[]> };
  now?: () => number;
}

/** `devices=id1,id2`: a comma-separated list of the organisation's device ids. */
export const deviceIdList = z
  .string()
  .transform((value) => [...new Set(value.split(','))])
  .pipe(z.array(z.string().regex(deviceIdPattern)).min(1).max(MAX_EXPORT_DEVICES));

const exportQuery = z.strictObject({
  format: z.enum(['csv', 'ndjson']).default('csv'),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  devices: deviceIdList.optional(),
});

/** What the export writes for one device: its id and name, never its pseudonym. */
interface DeviceColumns {
  id: string;
  name: string;
  /** `id,name` as CSV cells, escaped once per export rather than once per row. */
  csv: string;
}

interface Format {
  contentType: string;
  extension: string;
  head: string;
  rows(readings: ExportedReading[], devices: ReadonlyMap<string, DeviceColumns>): string;
}

const formats: Record<'csv' | 'ndjson', Format> = {
  // RFC 4180: CRLF line ends, a header line.
  csv: {
    contentType: 'text/csv; charset=utf-8; header=present',
    extension: 'csv',
    head: 'time,device_id,device_name,metric,value\r\n',
    rows(readings, devices) {
      let text = '';
      for (const r of readings) {
        const device = devices.get(r.deviceKey);
        if (!device) continue;
        text += `${new Date(r.time).toISOString()},${device.csv},${csvCell(r.metric)},${String(r.value)}\r\n`;
      }
      return text;
    },
  },
  ndjson: {
    contentType: 'application/x-ndjson',
    extension: 'ndjson',
    head: '',
    rows(readings, devices) {
      let text = '';
      for (const r of readings) {
        const device = devices.get(r.deviceKey);
        if (!device) continue;
        text += `${JSON.stringify({
          time: new Date(r.time).toISOString(),
          deviceId: device.id,
          deviceName: device.name,
          metric: r.metric,
          value: r.value,
        })}\n`;
      }
      return text;
    },
  },
};

/**
 * One CSV cell. Text a spreadsheet would run as a formula (starting with = + - @, or a tab or
 * carriage return that some strip first) gets a leading apostrophe (OWASP's CSV injection
 * advice); quotes, commas and line breaks make it quoted, with quotes doubled.
 */
export function csvCell(text: string): string {
  const inert = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(inert) ? `"${inert.replace(/"/g, '""')}"` : inert;
}

/**
 * Waits for `res` to take more. One 'drain' listener per download: the compression middleware
 * hands 'drain' listeners to its zlib stream, where `off` and `once` cannot remove them again.
 */
function drainer(res: Response, signal: AbortSignal): () => Promise<void> {
  let wake: (() => void) | undefined;
  const resume = () => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  res.on('drain', resume);
  signal.addEventListener('abort', resume, { once: true });
  return () =>
    signal.aborted
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          wake = resolve;
        });
}

/**
 * The organisation's readings as a download (P19): CSV or NDJSON, streamed from InfluxDB a
 * chunk at a time with HTTP backpressure, so any range costs the API the memory of one chunk.
 */
export function exportRoutes(deps: ExportRoutesDeps): Route[] {
  return [
    defineRoute(
      {
        method: 'get',
        path: '/orgs/:orgId/export',
        summary:
          "Download the organisation's raw readings as CSV or NDJSON (by default all of them)",
        tag: 'readings',
        access: { kind: 'org', minRole: 'member' },
        params: orgParams,
        query: exportQuery,
        produces: ['text/csv', 'application/x-ndjson'],
      },
      async ({ req, res, org, query }) => {
        const to = query.to
          ? new Date(query.to)
          : new Date((deps.now ?? Date.now)() + READING_FUTURE_SLACK_MS);
        // By default everything: the raw retention policy bounds what is still stored.
        const from = query.from ? new Date(query.from) : new Date(0);
        if (from >= to) {
          throw new AppError('VALIDATION_FAILED', [{ path: 'from', message: 'must be before to' }]);
        }
        const known = await deps.devices.listForOrg(org.orgId);
        let deviceKeys: string[] | undefined;
        if (query.devices) {
          const byId = new Map(known.map((d) => [d.id, d]));
          deviceKeys = query.devices.map((id) => {
            const device = byId.get(id);
            // Scoped by organisation: another organisation's device is a missing one.
            if (!device) throw new AppError('NOT_FOUND');
            return device.pseudonym;
          });
        }
        // A removed device's readings have no id or name any more; they are left out.
        const devices = new Map(
          known.map((d) => [
            d.pseudonym,
            { id: d.id, name: d.displayName, csv: `${csvCell(d.id)},${csvCell(d.displayName)}` },
          ]),
        );
        const format = formats[query.format];

        const abandoned = new AbortController();
        const onClose = () => abandoned.abort();
        res.on('close', onClose);
        const drained = drainer(res, abandoned.signal);
        const start = () => {
          if (res.headersSent) return;
          const day = new Date((deps.now ?? Date.now)()).toISOString().slice(0, 10);
          res.status(200);
          res.setHeader('Content-Type', format.contentType);
          res.setHeader(
            'Content-Disposition',
            `attachment; filename="telemoat-readings-${day}.${format.extension}"`,
          );
          res.write(format.head);
        };
        try {
          const batches = deps.readingsExport.stream({
            tenantKey: org.tenantKey,
            ...(deviceKeys ? { deviceKeys } : {}),
            from,
            to,
            signal: abandoned.signal,
          });
          // Headers go out with the first chunk: until then a failing query is a normal error.
          for await (const readings of batches) {
            start();
            const text = format.rows(readings, devices);
            if (text && !res.write(text)) await drained();
            if (abandoned.signal.aborted) return undefined;
          }
          start();
          res.end();
        } catch (err) {
          if (abandoned.signal.aborted) return undefined;
          if (!res.headersSent) throw err;
          // Mid-download: cutting the connection tells the client the file is incomplete.
          req.log.error({ err }, 'export broke off');
          res.destroy();
        } finally {
          res.off('close', onClose);
        }
        return undefined;
      },
    ),
  ];
}
