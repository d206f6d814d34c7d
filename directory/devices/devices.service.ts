import { AppError } from '../../common/errors.js';
import { AuditLogRepository, type AuditAction } from '../accounts/audit-log.repository.js';
import { transaction, type Queryable } from '../db/transaction.js';
import {
  DevicesRepository,
  type Device,
  type DevicePosition,
  type DeviceStatus,
} from './devices.repository.js';

/** A device with the secret it was just given: shown once, stored only as a hash (P12). */
export interface DeviceWithSecret {
  device: Device;
  secret: string;
}

/** What a change of status is called in the admin's history. */
export const statusAction = {
  disabled: 'device.disabled',
  active: 'device.enabled',
} as const satisfies Record<DeviceStatus, AuditAction>;

/**
 * An organisation's devices as its admins manage them. Every change and its record in the
 * acting admin's own history (P11) commit together. Scoped by organisation throughout, so
 * another organisation's device answers as a missing one (P2).
 */
export class DevicesService {
  constructor(private readonly pool: Queryable) {}

  async page(orgId: string, page: { limit: number; after?: DevicePosition }): Promise<Device[]> {
    return new DevicesRepository(this.pool).pageForOrg(orgId, page);
  }

  async register(actorId: string, orgId: string, name: string): Promise<DeviceWithSecret> {
    return this.audited(actorId, 'device.created', orgId, (devices) =>
      devices.provision(orgId, name),
    );
  }

  async rename(actorId: string, orgId: string, deviceId: string, name: string): Promise<Device> {
    return this.audited(actorId, 'device.renamed', orgId, (devices) =>
      devices.rename(orgId, deviceId, name),
    );
  }

  async rotateSecret(actorId: string, orgId: string, deviceId: string): Promise<DeviceWithSecret> {
    return this.audited(actorId, 'device.secret_rotated', orgId, (devices) =>
      devices.rotateSecret(orgId, deviceId),
    );
  }

  /** Disabled devices are refused by the broker, which drops their sessions within seconds. */
  async setStatus(
    actorId: string,
    orgId: string,
    deviceId: string,
    status: DeviceStatus,
  ): Promise<Device> {
    return this.audited(actorId, statusAction[status], orgId, (devices) =>
      devices.setStatus(orgId, deviceId, status),
    );
  }

  async remove(actorId: string, orgId: string, deviceId: string): Promise<void> {
    await this.audited(actorId, 'device.deleted', orgId, async (devices) =>
      (await devices.remove(orgId, deviceId)) ? { id: deviceId } : null,
    );
  }

  /** Runs a change and records it, in one transaction; nothing found is NOT_FOUND. */
  private async audited<T extends { id: string } | { device: { id: string } }>(
    actorId: string,
    action: AuditAction,
    orgId: string,
    change: (devices: DevicesRepository) => Promise<T | null>,
  ): Promise<T> {
    return transaction(this.pool, async (client) => {
      const changed = await change(new DevicesRepository(client));
      if (!changed) throw new AppError('NOT_FOUND');
      const deviceId = 'device' in changed ? changed.device.id : changed.id;
      await new AuditLogRepository(client).record({
        userId: actorId,
        actorUserId: actorId,
        action,
        details: { orgId, deviceId },
      });
      return changed;
    });
  }
}
