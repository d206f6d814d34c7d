import type pg from 'pg';
import { z } from 'zod';
import { deviceIdPattern } from '../../common/ids.js';

export interface DeviceCredentials {
  deviceId: string;
  secretHash: string;
  deviceKey: string;
  tenantKey: string;
  active: boolean;
}

/**
 * The Postgres channel on which the directory announces changes to a device's credentials, and
 * every broker listens (LISTEN/NOTIFY). Postgres delivers a notification only once the change
 * has committed, to every session listening in the database, whatever its role.
 */
export const DEVICE_CHANGES_CHANNEL = 'telemoat_device_changes';

/**
 * What a notification says: the device, by the id it connects with (the broker learns it from
 * every CONNECT), and whether the change revokes the credentials it had (rotated, disabled,
 * deleted) or lets it in again (enabled). Never a secret, a hash, an organisation or a name.
 */
const deviceChangeSchema = z.strictObject({
  deviceId: z.string().regex(deviceIdPattern),
  revoked: z.boolean(),
});

export type DeviceChange = z.output<typeof deviceChangeSchema>;

export const deviceChangePayload = (change: DeviceChange): string => JSON.stringify(change);

/** The change a notification's payload names, or null when it is not one. */
export function readDeviceChange(payload: string): DeviceChange | null {
  try {
    return deviceChangeSchema.safeParse(JSON.parse(payload)).data ?? null;
  } catch {
    return null;
  }
}

/**
 * The broker's narrow window on the directory. It connects as `telemoat_broker`, which may
 * read the `broker.device_credentials` view and nothing else (P21).
 */
export class DeviceCredentialsRepository {
  constructor(private readonly pool: pg.Pool) {}

  async find(deviceId: string): Promise<DeviceCredentials | null> {
    return (await this.findMany([deviceId]))[0] ?? null;
  }

  /** One query for many devices: the broker re-checks every connected device this way. */
  async findMany(deviceIds: readonly string[]): Promise<DeviceCredentials[]> {
    const { rows } = await this.pool.query<CredentialsRow>(
      `SELECT device_id, secret_hash, device_key, tenant_key, status
       FROM broker.device_credentials WHERE device_id = ANY($1::text[])`,
      [deviceIds],
    );
    return rows.map((row) => ({
      deviceId: row.device_id,
      secretHash: row.secret_hash,
      deviceKey: row.device_key,
      tenantKey: row.tenant_key,
      active: row.status === 'active',
    }));
  }
}

interface CredentialsRow {
  device_id: string;
  secret_hash: string;
  device_key: string;
  tenant_key: string;
  status: string;
}
