import { AppError } from '../../common/errors.js';
import { newDeviceId, newDeviceSecret, newPseudonym } from '../../common/ids.js';
import { hashDeviceSecret, verifySecret } from '../../common/secret-hash.js';
import type { AuditAction, AuditLogRepository } from '../accounts/audit-log.repository.js';
import type {
  Device,
  DevicePosition,
  DeviceStatus,
  DevicesRepository,
} from './devices.repository.js';
import { statusAction, type DevicesService, type DeviceWithSecret } from './devices.service.js';

/** Everything DevicesRepository offers its callers: the fake must keep up with it. */
type DeviceStore = Pick<DevicesRepository, keyof DevicesRepository>;

/** Postgres orders `display_name, id` with the database's collation; the fake by code unit. */
const byNameThenId = (a: DevicePosition, b: DevicePosition) =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;

const positionOf = (d: Device): DevicePosition => ({ name: d.displayName, id: d.id });

/**
 * The devices table in memory, for tests of the API without Postgres. Scoped by organisation as
 * the repository is: a device of another organisation is simply not found (P2). Secrets are
 * kept only as the same hash the repository stores (P12). Every answer is a copy.
 */
export class FakeDevices implements DeviceStore {
  private readonly rows = new Map<string, Device>();
  private readonly secretHashes = new Map<string, string>();

  constructor(private readonly now: () => number = Date.now) {}

  provision(
    orgId: string,
    displayName: string,
    id: string = newDeviceId(),
  ): Promise<{ device: Device; secret: string }> {
    return answer(() => {
      // The primary key: a second device with the same id is refused, as Postgres refuses it.
      if (this.rows.has(id)) throw new Error(`duplicate key value: device ${id}`);
      const at = new Date(this.now());
      const device: Device = {
        id,
        orgId,
        displayName,
        pseudonym: newPseudonym(),
        status: 'active',
        createdAt: at,
        updatedAt: at,
      };
      const secret = newDeviceSecret();
      this.rows.set(id, device);
      this.secretHashes.set(id, hashDeviceSecret(secret));
      return { device: copy(device), secret };
    });
  }

  listForOrg(orgId: string): Promise<Device[]> {
    return answer(() => this.ofOrg(orgId).map(copy));
  }

  findInOrg(orgId: string, deviceId: string): Promise<Device | null> {
    return answer(() => {
      const device = this.rows.get(deviceId);
      return device && device.orgId === orgId ? copy(device) : null;
    });
  }

  pageForOrg(orgId: string, page: { limit: number; after?: DevicePosition }): Promise<Device[]> {
    return answer(() =>
      this.ofOrg(orgId)
        .filter((d) => !page.after || byNameThenId(positionOf(d), page.after) > 0)
        .slice(0, page.limit)
        .map(copy),
    );
  }

  findManyInOrg(orgId: string, deviceIds: readonly string[]): Promise<Device[]> {
    return answer(() => {
      const wanted = new Set(deviceIds);
      return this.ofOrg(orgId)
        .filter((d) => wanted.has(d.id))
        .map(copy);
    });
  }

  rename(orgId: string, deviceId: string, displayName: string): Promise<Device | null> {
    return this.update(orgId, deviceId, { displayName });
  }

  setStatus(orgId: string, deviceId: string, status: DeviceStatus): Promise<Device | null> {
    return this.update(orgId, deviceId, { status });
  }

  async rotateSecret(
    orgId: string,
    deviceId: string,
  ): Promise<{ device: Device; secret: string } | null> {
    const device = await this.update(orgId, deviceId, {});
    if (!device) return null;
    const secret = newDeviceSecret();
    this.secretHashes.set(deviceId, hashDeviceSecret(secret));
    return { device, secret };
  }

  remove(orgId: string, deviceId: string): Promise<boolean> {
    return answer(() => {
      if (this.rows.get(deviceId)?.orgId !== orgId) return false;
      this.rows.delete(deviceId);
      this.secretHashes.delete(deviceId);
      return true;
    });
  }

  /** Whether `secret` is the device's current one, as the broker's authenticator checks it. */
  async secretMatches(deviceId: string, secret: string): Promise<boolean> {
    const hash = this.secretHashes.get(deviceId);
    return hash !== undefined && verifySecret(secret, hash);
  }

  private ofOrg(orgId: string): Device[] {
    return [...this.rows.values()]
      .filter((d) => d.orgId === orgId)
      .sort((a, b) => byNameThenId(positionOf(a), positionOf(b)));
  }

  private update(
    orgId: string,
    deviceId: string,
    change: Partial<Pick<Device, 'displayName' | 'status'>>,
  ): Promise<Device | null> {
    return answer(() => {
      const device = this.rows.get(deviceId);
      if (!device || device.orgId !== orgId) return null;
      const updated = { ...device, ...change, updatedAt: new Date(this.now()) };
      this.rows.set(deviceId, updated);
      return copy(updated);
    });
  }
}

/**
 * DevicesService over FakeDevices: the same rules (nothing found is NOT_FOUND, scoped by
 * organisation) and the same record of each change in the acting admin's history (P11).
 */
export class FakeDevicesService implements Pick<DevicesService, keyof DevicesService> {
  constructor(
    private readonly devices: FakeDevices,
    private readonly audit: Pick<AuditLogRepository, 'record'>,
  ) {}

  page(orgId: string, page: { limit: number; after?: DevicePosition }): Promise<Device[]> {
    return this.devices.pageForOrg(orgId, page);
  }

  register(actorId: string, orgId: string, name: string): Promise<DeviceWithSecret> {
    return this.audited(actorId, 'device.created', orgId, () =>
      this.devices.provision(orgId, name),
    );
  }

  rename(actorId: string, orgId: string, deviceId: string, name: string): Promise<Device> {
    return this.audited(actorId, 'device.renamed', orgId, () =>
      this.devices.rename(orgId, deviceId, name),
    );
  }

  rotateSecret(actorId: string, orgId: string, deviceId: string): Promise<DeviceWithSecret> {
    return this.audited(actorId, 'device.secret_rotated', orgId, () =>
      this.devices.rotateSecret(orgId, deviceId),
    );
  }

  setStatus(
    actorId: string,
    orgId: string,
    deviceId: string,
    status: DeviceStatus,
  ): Promise<Device> {
    return this.audited(actorId, statusAction[status], orgId, () =>
      this.devices.setStatus(orgId, deviceId, status),
    );
  }

  async remove(actorId: string, orgId: string, deviceId: string): Promise<void> {
    await this.audited(actorId, 'device.deleted', orgId, async () =>
      (await this.devices.remove(orgId, deviceId)) ? { id: deviceId } : null,
    );
  }

  private async audited<T extends { id: string } | { device: { id: string } }>(
    actorId: string,
    action: AuditAction,
    orgId: string,
    change: () => Promise<T | null>,
  ): Promise<T> {
    const changed = await change();
    if (!changed) throw new AppError('NOT_FOUND');
    const deviceId = 'device' in changed ? changed.device.id : changed.id;
    await this.audit.record({
      userId: actorId,
      actorUserId: actorId,
      action,
      details: { orgId, deviceId },
    });
    return changed;
  }
}

function copy(device: Device): Device {
  return {
    ...device,
    createdAt: new Date(device.createdAt),
    updatedAt: new Date(device.updatedAt),
  };
}

/** Answers a tick later, as a store does; a failure is a rejected promise, never a throw. */
function answer<T>(read: () => T): Promise<T> {
  return Promise.resolve().then(read);
}
