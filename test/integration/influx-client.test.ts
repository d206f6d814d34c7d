import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InfluxClient, InfluxError } from '../../influx/influx.client.js';
import { TelemetryError, telemetryErrorCodes } from '../../influx/telemetry.errors.js';

/** An HTTP server that answers /query's headers at once and then stalls the body. */
describe('InfluxClient when InfluxDB stalls mid-answer', () => {
  let server: Server;
  let url: string;

  beforeAll(async () => {
    server = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{"results":[{"statement_id":0,"series":[');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('rejects with a retryable InfluxError once the timeout cuts the body off', async () => {
    const client = new InfluxClient({ url, username: 'u', password: 'p' }, 300);
    const error = await client.query('SELECT 1').catch((err: unknown) => err);
    expect(error).toBeInstanceOf(InfluxError);
    expect(error).toBeInstanceOf(TelemetryError);
    expect((error as InfluxError).code).toBe('TELEMETRY_UNAVAILABLE');
    expect((error as InfluxError).retryable).toBe(true);
    expect((error as InfluxError).message).toMatch(/cut off/);
  });
});

describe('InfluxError', () => {
  it.each([
    [0, 'TELEMETRY_UNAVAILABLE', true],
    [500, 'TELEMETRY_UNAVAILABLE', true],
    [503, 'TELEMETRY_UNAVAILABLE', true],
    [400, 'TELEMETRY_REJECTED', false],
    [401, 'TELEMETRY_REJECTED', false],
  ])('for status %i has the code %s (retryable: %s)', (status, code, retryable) => {
    const error = new InfluxError('failed', status);
    expect(error).toMatchObject({ name: 'InfluxError', code, status, retryable });
    expect(telemetryErrorCodes).toContain(error.code);
  });
});
