import type pg from 'pg';

export interface DeviceCredentials {
  deviceId: string;
  secretHash: string;
  deviceKey: string;
  tenantKey: string;
  active: boolean;
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
