import { z } from 'zod';
import { MAX_EXPORT_DEVICES } from '../../influx/readings.export.js';
import { AppError, type ErrorCode } from '../../common/errors.js';
import type { LiveReading, LiveSubscriber } from './live-hub.js';
import { holderOf, type StreamGuard } from './stream-guard.js';
import { defineRoute, type Route } from '../http/route.js';
import { deviceIdList, orgParams } from '../http/params.js';

export interface LiveRoutesDeps {
  live: {
    subscribe(
      org: { orgId: string; tenantKey: string },
      subscriber: LiveSubscriber,
    ): Promise<() => void>;
  };
  streams: Pick<StreamGuard, 'admit'>;
}

/** A comment line every 15 s keeps proxies and load balancers from closing a quiet stream. */
const HEARTBEAT_MS = 15_000;
/** A client this far behind is not reading; its stream is cut rather than buffered further. */
const MAX_BUFFERED_BYTES = 1_048_576;

const MIN_ROLE = 'viewer';

const liveQuery = z.strictObject({ devices: deviceIdList(MAX_EXPORT_DEVICES).optional() });

/**
 * New readings of the organisation's devices as Server-Sent Events (`event: reading`, data
 * `{ time, deviceId, metric, value }`), each within about a second of reaching InfluxDB. The
 * stream is authenticated like every call, with `Authorization: Bearer`: the dashboard reads
 * it with fetch and a ReadableStream, since the browser's EventSource cannot send headers.
 * The stream stays as authorised as a request (StreamGuard): when its session ends, its token
 * expires or its holder leaves the organisation, it ends with `event: end` and the error a new
 * request would get (`{ code, message }`), so the client knows to refresh or stop.
 */
export function liveRoutes(deps: LiveRoutesDeps): Route[] {
  return [
    defineRoute(
      {
        method: 'get',
        path: '/orgs/:orgId/live',
        summary: "New readings of the organisation's devices as they arrive (Server-Sent Events)",
        tag: 'readings',
        access: { kind: 'org', minRole: MIN_ROLE },
        params: orgParams,
        query: liveQuery,
        produces: ['text/event-stream'],
      },
      async ({ req, res, org, query, userId }) => {
        const devices = query.devices ? new Set(query.devices) : null;

        const stream = {
          open: false,
          gone: false,
          /** Frames sent before the headers went out. */
          pending: [] as string[],
          unsubscribe: undefined as (() => void) | undefined,
          heartbeat: undefined as NodeJS.Timeout | undefined,
        };
        const write = (frame: string) => {
          if (stream.gone) return;
          if (!stream.open) {
            stream.pending.push(frame);
          } else if (res.writableLength > MAX_BUFFERED_BYTES) {
            req.log.warn('live stream client is not reading; closing its stream');
            res.destroy();
          } else {
            res.write(frame);
          }
        };
        const finish = () => {
          stream.gone = true;
          clearInterval(stream.heartbeat);
          stream.unsubscribe?.();
          release();
        };
        const end = (code?: ErrorCode) => {
          if (code) write(`event: end\ndata: ${JSON.stringify(new AppError(code).toBody())}\n\n`);
          finish();
          res.end();
        };
        const subscriber: LiveSubscriber = {
          devices,
          send: (reading: LiveReading) =>
            write(`event: reading\ndata: ${JSON.stringify(reading)}\n\n`),
          end: () => end(),
        };
        const release = deps.streams.admit(
          holderOf(req, userId, { orgId: org.orgId, minRole: MIN_ROLE, capped: true }),
          end,
        );
        res.on('close', finish);
        try {
          stream.unsubscribe = await deps.live.subscribe(org, subscriber);
        } catch (err) {
          finish();
          throw err;
        }
        if (stream.gone) {
          stream.unsubscribe();
          return undefined;
        }

        res.status(200);
        res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
        // Never cached, never compressed or buffered on the way: events must arrive one by one.
        res.setHeader('Cache-Control', 'no-store, no-transform');
        res.setHeader('X-Accel-Buffering', 'no');
        req.socket.setNoDelay(true);
        req.socket.setTimeout(0);
        res.flushHeaders();
        stream.open = true;
        // The reconnection delay EventSource-style clients use, and the frames queued meanwhile.
        res.write(`retry: 2000\n\n${stream.pending.join('')}`);
        stream.pending = [];
        stream.heartbeat = setInterval(() => write(': heartbeat\n\n'), HEARTBEAT_MS);
        return undefined;
      },
    ),
  ];
}
