import type pg from 'pg';
import { newDeviceId, newDeviceSecret, newPseudonym } from '../common/ids.js';
import { hashSecret } from '../common/secret-hash.js';
import { transaction } from './transaction.js';

export interface Device {
  id: string;
  orgId: string;
  displayName: string;
  pseudonym: string;
  status: 'active' | 'disabled';
}

interface DeviceRow {
  id: string;
  org_id: string;
  display_name: string;
  pseudonym: string;
  status: 'active' | 'disabled';
}

const toDevice = (r: DeviceRow): Device => ({
  id: r.id,
  orgId: r.org_id,
  displayName: r.display_name,
  pseudonym: r.pseudonym,
  status: r.status,
});

export class DevicesRepository {
  constructor(private readonly pool: pg.Pool) {}

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
    const secretHash = await hashSecret(secret);
    return transaction(this.pool, async (client) => {
      const { rows } = await client.query<DeviceRow>(
        `INSERT INTO devices (id, org_id, display_name, pseudonym) VALUES ($1, $2, $3, $4)
         RETURNING id, org_id, display_name, pseudonym, status`,
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
      `SELECT id, org_id, display_name, pseudonym, status FROM devices
       WHERE org_id = $1 ORDER BY display_name, id`,
      [orgId],
    );
    return rows.map(toDevice);
  }

  /** Scoped by organisation, so a device of another organisation is simply not found. */
  async findInOrg(orgId: string, deviceId: string): Promise<Device | null> {
    const { rows } = await this.pool.query<DeviceRow>(
      `SELECT id, org_id, display_name, pseudonym, status FROM devices
       WHERE org_id = $1 AND id = $2`,
      [orgId, deviceId],
    );
    return rows[0] ? toDevice(rows[0]) : null;
  }
}
