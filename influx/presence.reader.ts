import { pseudonymPattern } from '../common/ids.js';
import { rowsOf, type InfluxClient } from './influx.client.js';
import { PRESENCE_MEASUREMENT } from './line-protocol.js';
import { TelemetryError } from './telemetry.errors.js';

export interface Presence {
  /** Whether the broker last recorded a connection (true) or a disconnection (false). */
  connected: boolean;
  /** When that was, epoch milliseconds. */
  since: number;
}

/**
 * Reads the broker's `presence` records (pseudonyms only, P2) with the API's READ-only user.
 * A device never seen connected has no presence: null.
 */
export class PresenceReader {
  constructor(
    private readonly client: InfluxClient,
    private readonly database: string,
  ) {}

  async latest(tenantKey: string, deviceKey: string): Promise<Presence | null> {
    if (!pseudonymPattern.test(tenantKey) || !pseudonymPattern.test(deviceKey)) {
      throw new TelemetryError('TELEMETRY_INVALID_QUERY', 'pseudonym is not allowlisted');
    }
    const series = await this.client.query(
      `SELECT "connected" FROM "${PRESENCE_MEASUREMENT}" ` +
        'WHERE "tenant" = $tenant AND "device" = $device ORDER BY time DESC LIMIT 1',
      { database: this.database, params: { tenant: tenantKey, device: deviceKey } },
    );
    const row = series.flatMap(rowsOf)[0];
    if (!row || typeof row.time !== 'number' || typeof row.connected !== 'boolean') return null;
    return { connected: row.connected, since: row.time };
  }
}
