import { AppError } from '../../common/errors.js';
import type { Device } from '../../directory/devices/devices.repository.js';
import type { ExportedReading } from '../../influx/readings.export.js';
import type { Telemetry } from '../../influx/tenant-telemetry.js';
import { timeRange, type TenantOf, type TimeRange } from '../readings/readings.service.js';

export interface ExportServiceDeps {
  devices: { listForOrg(orgId: string): Promise<Device[]> };
  telemetry: Telemetry;
  now?: () => number;
}

export interface OpenedExport {
  /** The organisation's devices by pseudonym, to name each reading's device. */
  devices: ReadonlyMap<string, Device>;
  /** The readings, oldest first, a chunk at a time; the query stops when `signal` aborts. */
  batches: AsyncIterable<ExportedReading[]>;
}

/**
 * An organisation's raw readings for download (P19). By default everything: the raw
 * retention policy bounds what is still stored. A removed device's readings have no id or
 * name any more, so they are left out.
 */
export class ExportService {
  constructor(private readonly deps: ExportServiceDeps) {}

  async open(
    org: TenantOf,
    query: TimeRange & { deviceIds?: readonly string[] | undefined },
    signal: AbortSignal,
  ): Promise<OpenedExport> {
    const { from, to } = timeRange(query, () => new Date(0), this.deps.now ?? Date.now);
    const known = await this.deps.devices.listForOrg(org.orgId);
    let deviceKeys: string[] | undefined;
    if (query.deviceIds) {
      const byId = new Map(known.map((d) => [d.id, d]));
      deviceKeys = query.deviceIds.map((id) => {
        const device = byId.get(id);
        // Scoped by organisation: another organisation's device is a missing one.
        if (!device) throw new AppError('NOT_FOUND');
        return device.pseudonym;
      });
    }
    const batches = this.deps.telemetry.forTenant(org.tenantKey).export.stream({
      ...(deviceKeys ? { deviceKeys } : {}),
      from,
      to,
      signal,
    });
    return { devices: new Map(known.map((d) => [d.pseudonym, d])), batches };
  }
}
