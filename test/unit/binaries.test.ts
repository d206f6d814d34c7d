import { describe, expect, it } from 'vitest';
import {
  APT_GET,
  chromiumBrowser,
  decideWhenMissing,
  influxBinaries,
  locateBinDir,
  postgresBinaries,
  resolveBinDir,
  type HostView,
} from '../../servers/binaries.js';

/** A host whose only executables are `files`; folders are derived from their paths. */
function fakeHost(files: string[], uid = 1000, pathEnv = '/usr/local/bin:/usr/bin'): HostView {
  return {
    listDir: (dir) => [
      ...new Set(
        files
          .filter((file) => file.startsWith(`${dir}/`))
          .map((file) => file.slice(dir.length + 1).split('/')[0] ?? ''),
      ),
    ],
    isExecutable: (file) => files.includes(file),
    pathEnv,
    uid,
  };
}

function postgresIn(binDir: string): string[] {
  return ['postgres', 'initdb', 'pg_isready'].map((name) => `${binDir}/${name}`);
}

describe('locateBinDir', () => {
  it('prefers the highest Debian PostgreSQL version, compared numerically', () => {
    const host = fakeHost([
      ...postgresIn('/usr/lib/postgresql/9.6/bin'),
      ...postgresIn('/usr/lib/postgresql/15/bin'),
      ...postgresIn('/usr/lib/postgresql/13/bin'),
      ...postgresIn('/usr/bin'),
    ]);
    expect(locateBinDir(postgresBinaries, host)).toBe('/usr/lib/postgresql/15/bin');
  });

  it('skips a version folder that lacks initdb', () => {
    const host = fakeHost([
      '/usr/lib/postgresql/16/bin/postgres',
      ...postgresIn('/usr/lib/postgresql/15/bin'),
    ]);
    expect(locateBinDir(postgresBinaries, host)).toBe('/usr/lib/postgresql/15/bin');
  });

  it('falls back to PATH', () => {
    const host = fakeHost(
      [...postgresIn('/opt/pg/bin'), '/usr/bin/influxd'],
      1000,
      '/opt/pg/bin:/usr/bin',
    );
    expect(locateBinDir(postgresBinaries, host)).toBe('/opt/pg/bin');
    expect(locateBinDir(influxBinaries, host)).toBe('/usr/bin');
  });

  it("finds Debian's Chromium in /usr/bin even when PATH leaves it out", () => {
    const host = fakeHost(['/usr/bin/chromium'], 1000, '/usr/local/bin');
    expect(locateBinDir(chromiumBrowser, host)).toBe('/usr/bin');
    expect(decideWhenMissing(chromiumBrowser, fakeHost([], 0, ''), false)).toEqual(
      expect.objectContaining({ action: 'fail' }),
    );
    expect(decideWhenMissing(chromiumBrowser, fakeHost([APT_GET], 0, ''), false)).toEqual({
      action: 'apt-install',
      aptPackage: 'chromium',
    });
  });

  it('finds nothing when the binaries are absent', () => {
    expect(locateBinDir(postgresBinaries, fakeHost([]))).toBeUndefined();
    expect(locateBinDir(influxBinaries, fakeHost([]))).toBeUndefined();
  });
});

describe('decideWhenMissing', () => {
  it('installs with apt-get when running as root on a host that has it', () => {
    const host = fakeHost([APT_GET], 0);
    expect(decideWhenMissing(postgresBinaries, host, false)).toEqual({
      action: 'apt-install',
      aptPackage: 'postgresql',
    });
    expect(decideWhenMissing(influxBinaries, host, false)).toEqual({
      action: 'apt-install',
      aptPackage: 'influxdb',
    });
  });

  it('tells a regular user exactly what to install', () => {
    expect(decideWhenMissing(postgresBinaries, fakeHost([APT_GET], 1000), false)).toEqual({
      action: 'fail',
      message:
        'PostgreSQL server binaries not found. Install them with: sudo apt-get install postgresql (or set DATABASE_URL to an existing server)',
    });
    expect(decideWhenMissing(influxBinaries, fakeHost([APT_GET], 1000), false)).toEqual({
      action: 'fail',
      message:
        'InfluxDB 1.x server binary (influxd) not found. Install it with: sudo apt-get install influxdb (or set INFLUX_URL to an existing InfluxDB 1.x server)',
    });
  });

  it('does not try apt-get as root on a host without it', () => {
    const decision = decideWhenMissing(postgresBinaries, fakeHost([], 0), false);
    expect(decision.action).toBe('fail');
  });

  it('gives up after one install attempt and says so', () => {
    const decision = decideWhenMissing(influxBinaries, fakeHost([APT_GET], 0), true);
    expect(decision).toEqual({
      action: 'fail',
      message: expect.stringMatching(
        /^InfluxDB 1\.x server binary \(influxd\) not found even after 'apt-get install -y influxdb'\. Install it with: sudo apt-get install influxdb/,
      ) as unknown,
    });
  });
});

describe('resolveBinDir', () => {
  it('returns the folder without installing anything when the binaries exist', async () => {
    const host = fakeHost(postgresIn('/usr/lib/postgresql/15/bin'), 0);
    const log: string[] = [];
    await expect(resolveBinDir(postgresBinaries, (line) => log.push(line), host)).resolves.toBe(
      '/usr/lib/postgresql/15/bin',
    );
    expect(log).toEqual([]);
  });

  it('rejects with the install advice when it may not install', async () => {
    await expect(resolveBinDir(postgresBinaries, () => {}, fakeHost([]))).rejects.toThrow(
      'PostgreSQL server binaries not found. Install them with: sudo apt-get install postgresql',
    );
  });
});
