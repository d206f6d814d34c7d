import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CHUNK_ROWS } from '../../influx/readings.export.js';
import { DirectoryError } from '../../directory/directory.errors.js';
import { TelemetryError } from '../../influx/telemetry.errors.js';
import { type SeededDevice, type SeededMember, useApiApp } from '../support/api-app.js';
import type { Organisation } from '../../directory/organisations/organisations.repository.js';

const DAY = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();
const unavailable = {
  code: 'SERVICE_UNAVAILABLE',
  message: 'A storage service is unavailable; try again.',
};
const internal = { code: 'INTERNAL', message: 'Something went wrong on our side.' };

/**
 * The one table from the zones' internal failures to client answers (api/http/internal-errors.ts),
 * seen through real routes: the fakes fail as the stores do, with the zones' own error types.
 */
describe('internal failures as clients see them', () => {
  const app = useApiApp();
  let org: Organisation;
  let owner: SeededMember;
  let device: SeededDevice;

  beforeAll(async () => {
    org = await app.org();
    owner = await app.member(org.id, 'owner');
    device = await app.device(org, 'Sensor');
    app.readings(device, [{ metric: 'temperature', value: 20, time: app.clock.now() - 1000 }]);
  });
  afterEach(() => {
    app.faults.telemetry = undefined;
    app.faults.directory = undefined;
    app.faults.exportBreaks = undefined;
    app.logs.length = 0;
  });

  const failures = () => app.logs.filter((line) => line.msg === 'request failed');

  /** Each path answers 503 with Retry-After and nothing of the cause. */
  async function expectUnavailable(paths: string[]): Promise<void> {
    for (const path of paths) {
      const answer = await app.request('GET', path, { token: owner.token });
      expect({ path, status: answer.status, body: answer.body }).toEqual({
        path,
        status: 503,
        body: unavailable,
      });
      expect(answer.headers.get('retry-after')).toBe('5');
      expect(answer.text).not.toMatch(/ECONNREFUSED|starting up/);
    }
  }
  it("TELEMETRY_RANGE_TOO_LARGE from the telemetry side is the client's 400, about `window`", async () => {
    const now = app.clock.now();
    // Thirty days of one metric, in windows of the given width.
    const monthIn = (window: string) =>
      app.request('GET', `/orgs/${org.id}/readings`, {
        token: owner.token,
        query: {
          devices: device.id,
          metric: 'temperature',
          window,
          from: iso(now - 30 * DAY),
          to: iso(now),
        },
      });
    const answer = await monthIn('1m');
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({
      code: 'VALIDATION_FAILED',
      message: 'The request is not valid.',
      details: [{ path: 'window', message: 'more than 10000 windows: choose a wider window' }],
    });
    // A wider window answers the same range.
    const wider = await monthIn('1h');
    expect(wider.status).toBe(200);
    expect(failures()).toEqual([]);
  });

  it('TELEMETRY_UNAVAILABLE is 503 with Retry-After on every route that reads telemetry; the cause stays in the log', async () => {
    app.faults.telemetry = new TelemetryError(
      'TELEMETRY_UNAVAILABLE',
      'connect ECONNREFUSED 10.0.0.7:8086',
    );
    const paths = [
      `/orgs/${org.id}/latest`,
      `/orgs/${org.id}/metrics`,
      `/orgs/${org.id}/devices/${device.id}`,
      `/orgs/${org.id}/devices/${device.id}/readings`,
      `/orgs/${org.id}/readings?devices=${device.id}&metric=temperature`,
      `/orgs/${org.id}/export`,
      `/orgs/${org.id}/live`,
    ];
    await expectUnavailable(paths);
    expect(failures()).toHaveLength(paths.length);
    expect(failures().every((line) => typeof line.requestId === 'string')).toBe(true);
    // The directory is fine meanwhile: routes that do not read telemetry still answer.
    const devices = await app.request('GET', `/orgs/${org.id}/devices`, { token: owner.token });
    expect(devices.status).toBe(200);
  });

  it('DIRECTORY_UNAVAILABLE is 503 with Retry-After, even for the token check: the client retries rather than signs out', async () => {
    app.faults.directory = new DirectoryError(
      'DIRECTORY_UNAVAILABLE',
      'the database system is starting up',
    );
    await expectUnavailable([`/orgs/${org.id}/devices`, `/orgs/${org.id}/latest`, '/me']);
    app.faults.directory = undefined;
    expect(
      (await app.request('GET', `/orgs/${org.id}/devices`, { token: owner.token })).status,
    ).toBe(200);
  });

  it('a query the API should never have built (TELEMETRY_INVALID_QUERY, TELEMETRY_REJECTED) is our 500, nothing internal shown', async () => {
    for (const error of [
      new TelemetryError('TELEMETRY_INVALID_QUERY', 'pseudonym is not allowlisted'),
      new TelemetryError('TELEMETRY_REJECTED', 'error parsing query: found WHERE'),
      new Error('TypeError: cannot read properties of undefined (reading "pseudonym")'),
    ]) {
      app.faults.telemetry = error;
      const answer = await app.request('GET', `/orgs/${org.id}/latest`, { token: owner.token });
      expect(answer.status).toBe(500);
      expect(answer.body).toEqual(internal);
      expect(answer.headers.get('retry-after')).toBeNull();
    }
    expect(failures()).toHaveLength(3);
  });

  it('an export that fails before its first chunk is a plain error answer; one that breaks off later is cut', async () => {
    const busy = await app.device(org, 'Busy');
    const start = app.clock.now() - 2 * CHUNK_ROWS * 1000;
    app.readings(
      busy,
      Array.from({ length: CHUNK_ROWS + 10 }, (_, i) => ({
        metric: 'counter',
        value: i,
        time: start + i * 1000,
      })),
    );
    const error = new TelemetryError('TELEMETRY_UNAVAILABLE', 'the chunked answer broke off');

    app.faults.exportBreaks = { chunks: 0, error };
    const before = await app.request('GET', `/orgs/${org.id}/export`, { token: owner.token });
    expect(before.status).toBe(503);
    expect(before.headers.get('content-disposition')).toBeNull();

    app.faults.exportBreaks = { chunks: 1, error };
    const stream = await app.stream(`/orgs/${org.id}/export`, { token: owner.token });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toMatch(/^text\/csv/);
    // The connection is cut: the client cannot mistake the partial file for a whole one.
    await expect(stream.rest()).rejects.toThrow();
    expect(app.logs.map((line) => line.msg)).toContain('export broke off');
  });
});
