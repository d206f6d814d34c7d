import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../../common/config.js';
import { DevicesRepository } from '../../directory/devices/devices.repository.js';
import { OrganisationsRepository } from '../../directory/organisations/organisations.repository.js';
import { print, type Command } from './command.js';
import { openDirectory } from './directory-access.js';

const orgId = z.uuid();
const prefix = z.string().trim().min(1).max(80);
const PROGRESS_EVERY_MS = 2000;

interface ProvisionedDevice {
  id: string;
  name: string;
  secret: string;
}

/** JSON (an array of `{ id, name, secret }`) or CSV (`id,name,secret`), written as it goes. */
interface SecretsWriter {
  add(device: ProvisionedDevice): Promise<void>;
  finish(): Promise<void>;
}

const csvField = (value: string) =>
  /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;

function writerFor(file: FileHandle, format: 'json' | 'csv'): SecretsWriter {
  let count = 0;
  if (format === 'csv') {
    return {
      async add(d) {
        if (count++ === 0) await file.write('id,name,secret\n');
        await file.write(`${[d.id, d.name, d.secret].map(csvField).join(',')}\n`);
      },
      async finish() {
        if (count === 0) await file.write('id,name,secret\n');
      },
    };
  }
  return {
    async add(d) {
      await file.write(`${count++ === 0 ? '[\n' : ',\n'}  ${JSON.stringify(d)}`);
    },
    async finish() {
      await file.write(count === 0 ? '[]\n' : '\n]\n');
    },
  };
}

/**
 * Bulk provisioning. Each secret exists in plaintext only in the output file (mode 0600, never
 * an existing file, never the terminal); the directory keeps its hash (P12). The file is
 * written device by device, so an interrupted run still holds the secret of every device it made.
 */
export const provisionDevicesCommand: Command = {
  usage:
    'provision-devices --org <id> --count N --out <file.json|file.csv> [--prefix "Sensor"] [--format json|csv]\n' +
    '                                   register N devices; their secrets go only to the new file (mode 0600)',
  async run(options) {
    const org = orgId.safeParse(options.required('org'));
    if (!org.success) throw new ConfigError('command line', ['--org: must be an organisation id']);
    const count = options.integer('count', { min: 1, max: 100_000 });
    const name = prefix.safeParse(options.optional('prefix') ?? 'Device');
    if (!name.success) throw new ConfigError('command line', ['--prefix: 1-80 characters']);
    const out = path.resolve(options.required('out'));
    const format = options.optional('format') ?? (out.endsWith('.csv') ? 'csv' : 'json');
    if (format !== 'json' && format !== 'csv') {
      throw new ConfigError('command line', ['--format: json or csv']);
    }
    options.rejectUnknown();

    const directory = openDirectory('provision-devices');
    try {
      const organisation = await new OrganisationsRepository(directory.pool, directory.crypto).find(
        org.data,
      );
      if (!organisation)
        throw new ConfigError('command line', [`--org: no organisation ${org.data}`]);
      let file: FileHandle;
      try {
        // 'wx': fails when the file exists; secrets are never written over something else.
        file = await open(out, 'wx', 0o600);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new ConfigError('command line', [`--out: ${out} exists; refusing to overwrite it`]);
        }
        throw err;
      }
      const devices = new DevicesRepository(directory.pool);
      const writer = writerFor(file, format);
      const width = String(count).length;
      let lastReport = Date.now();
      try {
        print(
          `provision-devices: registering ${count} devices in "${organisation.name}"; secrets go to ${out}`,
        );
        for (let n = 1; n <= count; n++) {
          const displayName = `${name.data} ${String(n).padStart(width, '0')}`;
          const { device, secret } = await devices.provision(organisation.id, displayName);
          await writer.add({ id: device.id, name: displayName, secret });
          if (Date.now() - lastReport >= PROGRESS_EVERY_MS && n < count) {
            lastReport = Date.now();
            print(`provision-devices: ${n}/${count}`);
          }
        }
        await writer.finish();
        await file.sync();
      } finally {
        await file.close();
      }
      print(`provision-devices: done; ${count} devices registered, secrets in ${out} (mode 0600)`);
    } finally {
      await directory.close();
    }
  },
};
