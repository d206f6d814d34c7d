import { z } from 'zod';
import { deviceIdPattern } from '../../common/ids.js';
import type { Device } from '../../directory/devices/devices.repository.js';
import type { DevicesService } from '../../directory/devices/devices.service.js';
import { decodeCursor, pageOf } from '../http/page-cursor.js';
import { deviceParams, orgParams, pageQuery } from '../http/params.js';
import { defineRoute, type Route } from '../http/route.js';
import type { ReadingsService } from '../readings/readings.service.js';

export interface DevicesRoutesDeps {
  devicesService: Pick<DevicesService, keyof DevicesService>;
  readingsService: Pick<ReadingsService, 'deviceStatus'>;
  /** Where devices reach the broker (MQTT_PUBLIC_URL), for the example command. */
  mqttPublicUrl: string;
}

const devicePosition = z.tuple([z.string().min(1).max(200), z.string().regex(deviceIdPattern)]);

/** What people call a device: one line of printable text. */
const deviceName = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .regex(/^[^\p{Cc}]*$/u, 'must not contain control characters');
const nameBody = z.strictObject({ name: deviceName });

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

/** An organisation's devices, for its members; its admins manage them (P2). */
export function devicesRoutes(deps: DevicesRoutesDeps): Route[] {
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
        return details(
          await deps.devicesService.setStatus(userId, org.orgId, params.deviceId, status),
        );
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
        const rows = await deps.devicesService.page(org.orgId, {
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
        return secretAnswer(await deps.devicesService.register(userId, org.orgId, body.name));
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
        const status = await deps.readingsService.deviceStatus(org, params.deviceId);
        return {
          ...details(status.device),
          connected: status.connected,
          lastSeen: status.lastSeen === null ? null : iso(status.lastSeen),
          lastReadingAt: status.lastReadingAt === null ? null : iso(status.lastReadingAt),
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
        return details(
          await deps.devicesService.rename(userId, org.orgId, params.deviceId, body.name),
        );
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
        return secretAnswer(
          await deps.devicesService.rotateSecret(userId, org.orgId, params.deviceId),
        );
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
        await deps.devicesService.remove(userId, org.orgId, params.deviceId);
        return undefined;
      },
    ),
  ];
}
