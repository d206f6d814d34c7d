import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../common/errors.js';
import { verifySecret } from '../../common/secret-hash.js';
import { DevicesRepository } from '../../directory/devices/devices.repository.js';
import { DevicesService } from '../../directory/devices/devices.service.js';
import { useDirectoryDb } from '../support/directory-db.js';
import { lazy } from '../support/lazy.js';

/**
 * DevicesService against the real directory schema, as the API's role: every change commits
 * together with its record in the acting admin's history (P11), and another organisation's
 * device answers as a missing one (P2).
 */
const db = useDirectoryDb();
const service = lazy(() => new DevicesService(db.pool), 'service');
const devices = lazy(() => new DevicesRepository(db.pool), 'devices');
let orgA: string;
let orgB: string;
let adminA: string;
let adminB: string;

beforeAll(async () => {
  orgA = (await db.organisations.create('Greenhouse A')).id;
  orgB = (await db.organisations.create('Greenhouse B')).id;
  adminA = (await db.createUser()).id;
  adminB = (await db.createUser()).id;
  await db.organisations.addMember(orgA, adminA, 'admin');
  await db.organisations.addMember(orgB, adminB, 'admin');
});

/** What only the admin role may read: the API's role sees no secret hashes (P21). */
async function secretHashOf(deviceId: string): Promise<string | undefined> {
  const { rows } = await db.admin.query<{ secret_hash: string }>(
    'SELECT secret_hash FROM device_credentials WHERE device_id = $1',
    [deviceId],
  );
  return rows[0]?.secret_hash;
}

const codeOf = (err: unknown) =>
  err instanceof AppError || err instanceof pg.DatabaseError ? err.code : String(err);

/** Tries every change of a device as `actorId` in `orgId`; the code each one failed with. */
async function everyChange(
  actorId: string,
  orgId: string,
  deviceId: string,
): Promise<(string | undefined)[]> {
  const attempts = [
    () => service.rename(actorId, orgId, deviceId, 'Renamed'),
    () => service.rotateSecret(actorId, orgId, deviceId),
    () => service.setStatus(actorId, orgId, deviceId, 'disabled'),
    () => service.remove(actorId, orgId, deviceId),
  ];
  const codes: (string | undefined)[] = [];
  for (const attempt of attempts) codes.push(codeOf(await attempt().catch((err: unknown) => err)));
  return codes;
}

describe('DevicesService: every change recorded in the acting admin’s history', () => {
  it('P11, P12: register, rename, rotate, disable, enable and delete each leave one audit row of the admin', async () => {
    const { device, secret } = await service.register(adminA, orgA, 'Sensor north');
    expect(device).toMatchObject({ orgId: orgA, displayName: 'Sensor north', status: 'active' });
    // The secret is stored only as a hash that the secret verifies (P12).
    const firstHash = await secretHashOf(device.id);
    expect(firstHash).toBeDefined();
    expect(firstHash).not.toContain(secret);
    expect(await verifySecret(secret, firstHash!)).toBe(true);

    expect((await service.rename(adminA, orgA, device.id, 'Sensor south')).displayName).toBe(
      'Sensor south',
    );
    const rotated = await service.rotateSecret(adminA, orgA, device.id);
    expect(rotated.secret).not.toBe(secret);
    const secondHash = await secretHashOf(device.id);
    expect(await verifySecret(rotated.secret, secondHash!)).toBe(true);
    expect(await verifySecret(secret, secondHash!)).toBe(false);

    expect((await service.setStatus(adminA, orgA, device.id, 'disabled')).status).toBe('disabled');
    expect((await service.setStatus(adminA, orgA, device.id, 'active')).status).toBe('active');
    await service.remove(adminA, orgA, device.id);
    expect(await devices.findInOrg(orgA, device.id)).toBeNull();
    expect(await secretHashOf(device.id)).toBeUndefined();

    const history = await db.audit.listForUser(adminA, 20);
    expect(history.map((e) => e.action)).toEqual([
      'device.deleted',
      'device.enabled',
      'device.disabled',
      'device.secret_rotated',
      'device.renamed',
      'device.created',
    ]);
    for (const entry of history) {
      expect(entry.actorUserId).toBe(adminA);
      // Ids only, never the device's name or secret.
      expect(entry.details).toEqual({ orgId: orgA, deviceId: device.id });
    }
    // Nothing about it landed on another admin's history.
    expect(await db.audit.listForUser(adminB, 20)).toEqual([]);
  });

  it('P2: another organisation’s device is NOT_FOUND for every change, and stays as it was', async () => {
    const { device } = await service.register(adminA, orgA, 'Sensor east');
    const hash = await secretHashOf(device.id);
    const before = await db.audit.listForUser(adminB, 20);

    expect(await everyChange(adminB, orgB, device.id)).toEqual(Array(4).fill('NOT_FOUND'));
    // The same answer as for a device that does not exist at all.
    const missing = await service
      .rename(adminB, orgB, 'no-such-device', 'x')
      .catch((e: unknown) => e);
    expect(codeOf(missing)).toBe('NOT_FOUND');

    expect(await devices.findInOrg(orgA, device.id)).toMatchObject({
      displayName: 'Sensor east',
      status: 'active',
    });
    expect(await secretHashOf(device.id)).toBe(hash);
    expect(await service.page(orgB, { limit: 10 })).toEqual([]);
    expect(await db.audit.listForUser(adminB, 20)).toEqual(before);
  });
});

describe('DevicesService: a change whose audit record fails is not made at all', () => {
  // audit_log.user_id references users (id): an actor with no account makes the audit insert
  // fail with a foreign-key violation (23503) after the device change itself succeeded.
  const ghost = randomUUID();

  it('P11: register commits no device when its audit record is refused', async () => {
    const before = await devices.listForOrg(orgA);
    const error = await service.register(ghost, orgA, 'Sensor ghost').catch((e: unknown) => e);
    expect(codeOf(error)).toBe('23503');
    expect(await devices.listForOrg(orgA)).toEqual(before);
    const { rows } = await db.admin.query(
      `SELECT 1 FROM devices WHERE display_name = 'Sensor ghost'`,
    );
    expect(rows).toEqual([]);
  });

  it('P11: rename, rotate, status and delete all roll back when their audit record is refused', async () => {
    const { device } = await service.register(adminA, orgA, 'Sensor west');
    const stored = await devices.findInOrg(orgA, device.id);
    const hash = await secretHashOf(device.id);

    expect(await everyChange(ghost, orgA, device.id)).toEqual(Array(4).fill('23503'));
    // Name, status, updated_at and secret hash are exactly as before: nothing committed.
    expect(await devices.findInOrg(orgA, device.id)).toEqual(stored);
    expect(await secretHashOf(device.id)).toBe(hash);
    const { rows } = await db.admin.query('SELECT 1 FROM audit_log WHERE user_id = $1', [ghost]);
    expect(rows).toEqual([]);
  });
});
