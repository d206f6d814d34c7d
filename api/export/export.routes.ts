import type { Request, Response } from 'express';
import { z } from 'zod';
import { MAX_EXPORT_DEVICES, type ExportedReading } from '../../influx/readings.export.js';
import { holderOf, type StreamGuard } from '../live/stream-guard.js';
import { defineRoute, type Route } from '../http/route.js';
import { deviceIdList, orgParams } from '../http/params.js';
import type { ExportService, OpenedExport } from './export.service.js';

export interface ExportRoutesDeps {
  exportService: Pick<ExportService, 'open'>;
  streams: Pick<StreamGuard, 'admit'>;
  now?: () => number;
}

const MIN_ROLE = 'member';

const exportQuery = z.strictObject({
  format: z.enum(['csv', 'ndjson']).default('csv'),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  devices: deviceIdList(MAX_EXPORT_DEVICES).optional(),
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
  row(reading: ExportedReading, device: DeviceColumns): string;
}

const formats: Record<'csv' | 'ndjson', Format> = {
  // RFC 4180: CRLF line ends, a header line.
  csv: {
    contentType: 'text/csv; charset=utf-8; header=present',
    extension: 'csv',
    head: 'time,device_id,device_name,metric,value\r\n',
    row: (r, device) =>
      `${new Date(r.time).toISOString()},${device.csv},${csvCell(r.metric)},${String(r.value)}\r\n`,
  },
  ndjson: {
    contentType: 'application/x-ndjson',
    extension: 'ndjson',
    head: '',
    row: (r, device) =>
      `${JSON.stringify({
        time: new Date(r.time).toISOString(),
        deviceId: device.id,
        deviceName: device.name,
        metric: r.metric,
        value: r.value,
      })}\n`,
  },
};

/** One chunk as text; readings of devices the directory no longer names are left out. */
function rowsOf(
  format: Format,
  readings: ExportedReading[],
  devices: ReadonlyMap<string, DeviceColumns>,
): string {
  let text = '';
  for (const r of readings) {
    const device = devices.get(r.deviceKey);
    if (device) text += format.row(r, device);
  }
  return text;
}

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
 * Streams an export into the answer with backpressure. The headers go out with the first
 * chunk, so a query that fails before it is a normal error answer; one that breaks off later
 * cuts the connection, which tells the client the file is incomplete.
 */
async function download(
  req: Request,
  res: Response,
  abandoned: AbortController,
  format: Format,
  opened: OpenedExport,
  day: string,
): Promise<void> {
  const devices = new Map(
    [...opened.devices].map(([pseudonym, d]) => [
      pseudonym,
      { id: d.id, name: d.displayName, csv: `${csvCell(d.id)},${csvCell(d.displayName)}` },
    ]),
  );
  const onClose = () => abandoned.abort();
  res.on('close', onClose);
  const drained = drainer(res, abandoned.signal);
  const start = () => {
    if (res.headersSent) return;
    res.status(200);
    res.setHeader('Content-Type', format.contentType);
    res.setHeader(
      'Content-Disposition',
      `attachment; filename="telemoat-readings-${day}.${format.extension}"`,
    );
    res.write(format.head);
  };
  try {
    for await (const readings of opened.batches) {
      start();
      const text = rowsOf(format, readings, devices);
      if (text && !res.write(text)) await drained();
      if (abandoned.signal.aborted) return;
    }
    start();
    res.end();
  } catch (err) {
    if (abandoned.signal.aborted) return;
    if (!res.headersSent) throw err;
    // Mid-download: cutting the connection tells the client the file is incomplete.
    req.log.error({ err }, 'export broke off');
    res.destroy();
  } finally {
    res.off('close', onClose);
  }
}

/**
 * The organisation's readings as a download (P19): CSV or NDJSON, streamed from InfluxDB a
 * chunk at a time with HTTP backpressure, so any range costs the API the memory of one chunk.
 * A download in progress stays as authorised as a request (StreamGuard): when the session
 * ends, the token expires or the member leaves, the connection is cut and the file incomplete.
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
        access: { kind: 'org', minRole: MIN_ROLE },
        params: orgParams,
        query: exportQuery,
        produces: ['text/csv', 'application/x-ndjson'],
      },
      async ({ req, res, org, query, userId }) => {
        const abandoned = new AbortController();
        const release = deps.streams.admit(
          holderOf(req, userId, { orgId: org.orgId, minRole: MIN_ROLE, capped: false }),
          () => {
            abandoned.abort();
            res.destroy();
          },
        );
        try {
          const opened = await deps.exportService.open(
            org,
            { ...query, deviceIds: query.devices },
            abandoned.signal,
          );
          const day = new Date((deps.now ?? Date.now)()).toISOString().slice(0, 10);
          await download(req, res, abandoned, formats[query.format], opened, day);
        } finally {
          release();
        }
        return undefined;
      },
    ),
  ];
}
