import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { apiConfigSchema } from '../../api/api.config.js';
import { brokerConfigSchema } from '../../broker/broker.config.js';
import { setupConfigSchema } from '../../bin/setup.config.js';
import { ConfigError, loadConfig, loadConfigs } from '../../common/config.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const run = promisify(execFile);

const validBroker = {
  BROKER_DATABASE_URL: 'postgres://telemoat_broker:pw@127.0.0.1:5432/telemoat',
  INFLUX_URL: 'http://127.0.0.1:8086',
  INFLUX_INGEST_PASSWORD: 'a-long-enough-password',
};

/** Runs an entry point with exactly `env` (plus PATH) and returns its exit code and stderr. */
async function start(script: string, args: string[], env: Record<string, string>) {
  try {
    await run(process.execPath, ['--import', 'tsx', script, ...args], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', ...env },
      timeout: 20_000,
    });
    return { code: 0, stderr: '' };
  } catch (err) {
    const failure = err as { code: number; stderr: string };
    return { code: failure.code, stderr: failure.stderr };
  }
}

describe('configuration', () => {
  it('applies defaults and coerces numbers', () => {
    const config = loadConfig('broker', brokerConfigSchema, validBroker);
    expect(config.MQTT_PORT).toBe(1883);
    expect(config.INFLUX_DATABASE).toBe('telemoat');
    expect(
      loadConfig('broker', brokerConfigSchema, { ...validBroker, MQTT_PORT: '1999' }).MQTT_PORT,
    ).toBe(1999);
  });

  it('reports every bad key at once', () => {
    const attempt = () =>
      loadConfig('broker', brokerConfigSchema, {
        ...validBroker,
        MQTT_PORT: 'not-a-port',
        INFLUX_URL: 'ftp://influx',
        INFLUX_INGEST_PASSWORD: 'short',
        LOG_LEVEL: 'loud',
      });
    expect(attempt).toThrow(ConfigError);
    const problems = (() => {
      try {
        attempt();
        return [];
      } catch (err) {
        return (err as ConfigError).problems;
      }
    })();
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual([
      'INFLUX_INGEST_PASSWORD',
      'INFLUX_URL',
      'LOG_LEVEL',
      'MQTT_PORT',
    ]);
  });

  it('names missing keys of several components in one error', () => {
    try {
      loadConfigs(
        { setup: setupConfigSchema, broker: brokerConfigSchema, api: apiConfigSchema },
        {},
      );
      expect.unreachable('an empty environment must not load');
    } catch (err) {
      const message = (err as ConfigError).message;
      for (const key of [
        'DATABASE_URL',
        'BROKER_DATABASE_URL',
        'API_DATABASE_URL',
        'JWT_PRIVATE_KEY',
        'INFLUX_URL',
      ]) {
        expect(message).toContain(key);
      }
    }
  });

  it('stops the broker process with a non-zero exit and a message naming each bad key', async () => {
    const { code, stderr } = await start('bin/main.ts', ['broker'], {
      ...validBroker,
      MQTT_PORT: '70000',
      INFLUX_URL: 'not a url',
    });
    expect(code).toBe(1);
    expect(stderr).toContain('Invalid broker configuration');
    expect(stderr).toMatch(/MQTT_PORT: /);
    expect(stderr).toMatch(/INFLUX_URL: /);
    expect(stderr).not.toContain('a-long-enough-password');
  });

  it('stops the local start-up before anything starts when a key is bad', async () => {
    const { code, stderr } = await start('bin/start-local.ts', [], { API_PORT: 'eighty' });
    expect(code).toBe(1);
    expect(stderr).toMatch(/API_PORT: /);
  });
});
