import { newDeviceId, newDeviceSecret, newPseudonym } from '../../common/ids.js';
import { hashDeviceSecret } from '../../common/secret-hash.js';
import { transaction, type Queryable } from '../db/transaction.js';
import {
  DEVICE_CHANGES_CHANNEL,
  deviceChangePayload,
  type DeviceChange,
} from './device-credentials.repository.js';

export interface Device {
  id: string;
  orgId: string;
  displayName: string;
  pseudonym: string;
  status: DeviceStatus;
  createdAt: Date;
  updatedAt: Date;
}

export type DeviceStatus = 'active' | 'disabled';

/** Where a page of devices ends: the next page starts after this name and id. */
export interface DevicePosition {
  name: string;
  id: string;
}

interface DeviceRow {
  id: string;
  org_id: string;
  display_name: string;
  pseudonym: string;
  status: DeviceStatus;
  created_at: Date;
  updated_at: Date;
}

const columns = 'id, org_id, display_name, pseudonym, status, created_at, updated_at';

/**
 * Tells every broker that the device's credentials changed, in the caller's transaction:
 * Postgres delivers it on commit, and never if the change is rolled back.
 */
async function announce(db: Queryable, change: DeviceChange): Promise<void> {
  await db.query('SELECT pg_notify($1, $2)', [DEVICE_CHANGES_CHANNEL, deviceChangePayload(change)]);
}

const toDevice = (r: DeviceRow): Device => ({
  id: r.id,
  orgId: r.org_id,
  displayName: r.display_name,
  pseudonym: r.pseudonym,
  status: r.status,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export class DevicesRepository {
  constructor(private readonly pool: Queryable) {}

  /**
   * Registers a device and returns its secret. The secret exists in plaintext only in this
   * return value: it is shown once to whoever provisions the device and stored hashed (P12).
   */
  async provision(
    orgId: string,
    displayName: string,
    id: string = newDeviceId(),
  ): Promise<{ device: Device; secret: string }> {
    const secret = newDeviceSecret();
    const secretHash = hashDeviceSecret(secret);
    return transaction(this.pool, async (client) => {
      const { rows } = await client.query<DeviceRow>(
        `INSERT INTO devices (id, org_id, display_name, pseudonym) VALUES ($1, $2, $3, $4)
         RETURNING ${columns}`,
        [id, orgId, displayName, newPseudonym()],
      );
      await client.query(
        'INSERT INTO device_credentials (device_id, secret_hash) VALUES ($1, $2)',
        [id, secretHash],
      );
      return { device: toDevice(rows[0]!), secret };
    });
  }

  async listForOrg(orgId: string): Promise<Device[]> {
    const { rows } = await this.pool.query<DeviceRow>(
      `SELECT ${columns} FROM devices WHERE org_id = $1 ORDER BY display_name, id`,
      [orgId],
    );
    return rows.map(toDevice);
  }

  /** Scoped by organisation, so a device of another organisation is simply not found. */
  async findInOrg(orgId: string, deviceId: string): Promise<Device | null> {
    const { rows } = await this.pool.query<DeviceRow>(
      `SELECT ${columns} FROM devices WHERE org_id = $1 AND id = $2`,
      [orgId, deviceId],
    );
    return rows[0] ? toDevice(rows[0]) : null;
  }

  /** One page of the organisation's devices by name, then id, starting after `after`. */
  async pageForOrg(
    orgId: string,
    page: { limit: number; after?: DevicePosition },
  ): Promise<Device[]> {
    const { rows } = await this.pool.query<DeviceRow>(
      `SELECT ${columns} FROM devices
       WHERE org_id = $1 AND ($3::text IS NULL OR (display_name, id) > ($3::text, $4::text))
       ORDER BY display_name, id LIMIT $2`,
      [orgId, page.limit, page.after?.name ?? null, page.after?.id ?? null],
    );
    return rows.map(toDevice);
  }

  /** Those of `deviceIds` that belong to the organisation; others are simply absent. */
  async findManyInOrg(orgId: string, deviceIds: readonly string[]): Promise<Device[]> {
    const { rows } = await this.pool.query<DeviceRow>(
      `SELECT ${columns} FROM devices WHERE org_id = $1 AND id = ANY($2::text[])`,
      [orgId, [...deviceIds]],
    );
    return rows.map(toDevice);
  }

  async rename(orgId: string, deviceId: string, displayName: string): Promise<Device | null> {
    return this.update(orgId, deviceId, 'display_name = $3', [displayName]);
  }

  /**
   * Disabling makes every broker drop the device's session and refuse it at once; enabling lets
   * it in again without waiting for a broker to forget the refusal.
   */
  async setStatus(orgId: string, deviceId: string, status: DeviceStatus): Promise<Device | null> {
    return transaction(this.pool, async (client) => {
      const device = await this.update(orgId, deviceId, 'status = $3', [status], client);
      if (device) await announce(client, { deviceId, revoked: status === 'disabled' });
      return device;
    });
  }

  /**
   * Replaces the device's secret and returns the new one, shown once like at provisioning. Every
   * broker drops a session signed in with the old secret and refuses it from then on.
   */
  async rotateSecret(
    orgId: string,
    deviceId: string,
  ): Promise<{ device: Device; secret: string } | null> {
    const secret = newDeviceSecret();
    const secretHash = hashDeviceSecret(secret);
    return transaction(this.pool, async (client) => {
      const { rows } = await client.query<DeviceRow>(
        `UPDATE devices SET updated_at = now() WHERE org_id = $1 AND id = $2 RETURNING ${columns}`,
        [orgId, deviceId],
      );
      if (!rows[0]) return null;
      await client.query(
        'UPDATE device_credentials SET secret_hash = $2, rotated_at = now() WHERE device_id = $1',
        [deviceId, secretHash],
      );
      await announce(client, { deviceId, revoked: true });
      return { device: toDevice(rows[0]), secret };
    });
  }

  /**
   * Removes the device and its credentials (cascade) from the directory. Its readings stay in
   * InfluxDB under its pseudonym and the organisation's tenant key until the organisation's
   * telemetry is deleted; no name points to that pseudonym any more.
   */
  async remove(orgId: string, deviceId: string): Promise<boolean> {
    return transaction(this.pool, async (client) => {
      const { rowCount } = await client.query('DELETE FROM devices WHERE org_id = $1 AND id = $2', [
        orgId,
        deviceId,
      ]);
      if (rowCount === 1) await announce(client, { deviceId, revoked: true });
      return rowCount === 1;
    });
  }

  /** `db` is the caller's transaction when the change must commit with something else. */
  private async update(
    orgId: string,
    deviceId: string,
    set: string,
    values: unknown[],
    db: Queryable = this.pool,
  ): Promise<Device | null> {
    const { rows } = await db.query<DeviceRow>(
      `UPDATE devices SET ${set}, updated_at = now() WHERE org_id = $1 AND id = $2
       RETURNING ${columns}`,
      [orgId, deviceId, ...values],
    );
    return rows[0] ? toDevice(rows[0]) : null;
  }
}
