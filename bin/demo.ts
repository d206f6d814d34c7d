import { readFile, writeFile } from 'node:fs/promises';
import pg from 'pg';
import type { ApiConfig } from '../api/api.config.js';
import { hashSecret } from '../common/secret-hash.js';
import { directoryCryptoFrom } from '../directory/crypto/crypto.config.js';
import { DevicesRepository } from '../directory/devices/devices.repository.js';
import { MetricUnitsRepository } from '../directory/organisations/metric-units.repository.js';
import { OrganisationsRepository } from '../directory/organisations/organisations.repository.js';
import { UsersRepository } from '../directory/accounts/users.repository.js';
import type { SimulatedDevice } from '../fleet/simulated-fleet.js';

export const demoLogin = { email: 'demo@telemoat.local', password: 'greenhouse-demo' };
const demoOrg = 'Demo Greenhouses AB';
const demoDevices = [
  'Greenhouse 1 north',
  'Greenhouse 1 south',
  'Greenhouse 2',
  'Cold store',
  'Seedling room',
];
/** What the simulated sensors measure (fleet/simulated-fleet.ts), as an owner would label it. */
const demoMetrics = [
  { metric: 'temperature', unit: '°C', label: 'Temperature' },
  { metric: 'humidity', unit: '%', label: 'Humidity' },
  { metric: 'co2', unit: 'ppm', label: 'CO₂' },
  { metric: 'door_open', unit: '', label: 'Door open' },
];

/**
 * A demo organisation, its owner and a fleet of devices. Device secrets exist in plaintext
 * only in `fleetFile` (mode 0600), which the simulated devices read, as a real operator's
 * provisioning file would be kept; the directory holds only their hashes.
 */
export async function seedDemo(config: ApiConfig, fleetFile: string): Promise<SimulatedDevice[]> {
  const pool = new pg.Pool({ connectionString: config.API_DATABASE_URL, max: 2 });
  try {
    const crypto = directoryCryptoFrom(config);
    const users = new UsersRepository(pool, crypto);
    const organisations = new OrganisationsRepository(pool, crypto);
    const devices = new DevicesRepository(pool);
    // Names are encrypted, so the demo organisation is found through its owner's e-mail.
    const existing = await users.findByEmail(demoLogin.email);
    const userId =
      existing?.id ??
      (await users.create({
        email: demoLogin.email,
        displayName: 'Demo Owner',
        passwordHash: await hashSecret(demoLogin.password),
        verified: true,
      }));
    const owned = (await users.memberships(userId)).find(
      (m) => m.orgName === demoOrg && m.role === 'owner',
    );
    const org = owned ? { id: owned.orgId } : await organisations.create(demoOrg);
    await organisations.addMember(org.id, userId, 'owner');
    const units = new MetricUnitsRepository(pool);
    for (const description of demoMetrics) await units.describe(org.id, description);

    const known = await readFleet(fleetFile);
    const registered = new Set((await devices.listForOrg(org.id)).map((d) => d.id));
    if (known.length > 0 && known.every((d) => registered.has(d.id))) return known;
    const fleet: SimulatedDevice[] = [];
    for (const name of demoDevices) {
      const { device, secret } = await devices.provision(org.id, name);
      fleet.push({ id: device.id, secret, name });
    }
    await writeFile(fleetFile, JSON.stringify(fleet, null, 2), { mode: 0o600 });
    return fleet;
  } finally {
    await pool.end();
  }
}

async function readFleet(file: string): Promise<SimulatedDevice[]> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as SimulatedDevice[];
  } catch {
    return [];
  }
}
