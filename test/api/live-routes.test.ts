import { describe, expect, it } from 'vitest';
import { startApiApp, useApiApp } from '../support/api-app.js';

const isReading = (frame: string) => frame.startsWith('event: reading\n');
const dataOf = (frame: string) =>
  JSON.parse(frame.slice(frame.indexOf('data: ') + 'data: '.length)) as Record<string, unknown>;

/** Resolves once `condition` holds, checking after each turn of the event loop; bounded. */
async function until(condition: () => boolean, withinMs = 2000): Promise<void> {
  const deadline = performance.now() + withinMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`not within ${withinMs} ms`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('live route (Server-Sent Events)', () => {
  const app = useApiApp();

  it("P2: streams new readings of the organisation's devices by device id, never by pseudonym", async () => {
    const org = await app.org();
    const viewer = await app.member(org.id, 'viewer');
    const device = await app.device(org, 'Live sensor');
    const now = app.clock.now();
    app.readings(device, [{ metric: 'temperature', value: 1, time: now - 2000 }]);

    const stream = await app.stream(`/orgs/${org.id}/live`, { token: viewer.token });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(stream.headers.get('cache-control')).toBe('no-store, no-transform');
    expect(stream.headers.get('x-accel-buffering')).toBe('no');
    expect(stream.headers.get('content-encoding')).toBeNull();
    expect(await stream.waitFor(() => true)).toBe('retry: 2000');

    // Stored before the stream opened: old. Stored after: delivered.
    app.readings(device, [{ metric: 'temperature', value: 2, time: now - 1000 }]);
    const frame = await stream.waitFor(isReading);
    expect(dataOf(frame)).toEqual({
      time: new Date(now - 1000).toISOString(),
      deviceId: device.id,
      metric: 'temperature',
      value: 2,
    });
    expect(frame).not.toContain(device.pseudonym);
    expect(frame).not.toContain(org.tenantKey);
    await stream.close();
  });

  it('sends only the devices asked for, and nothing of another organisation', async () => {
    const org = await app.org();
    const viewer = await app.member(org.id, 'viewer');
    const wanted = await app.device(org, 'Wanted');
    const unwanted = await app.device(org, 'Unwanted');
    const theirs = await app.device(await app.org('Other'), 'Theirs');
    const stream = await app.stream(`/orgs/${org.id}/live`, {
      token: viewer.token,
      query: { devices: wanted.id },
    });
    expect(stream.status).toBe(200);
    const now = app.clock.now();
    app.readings(unwanted, [{ metric: 'level', value: 1, time: now - 3000 }]);
    app.readings(theirs, [{ metric: 'level', value: 2, time: now - 2000 }]);
    app.readings(wanted, [{ metric: 'level', value: 3, time: now - 1000 }]);
    // Delivered oldest first: the first reading to arrive is the first one this stream may see.
    expect(dataOf(await stream.waitFor(isReading))).toMatchObject({
      deviceId: wanted.id,
      value: 3,
    });
    await stream.close();
  });

  it('stops polling an organisation once its last stream has gone', async () => {
    const org = await app.org();
    const viewer = await app.member(org.id, 'viewer');
    // Streams of the tests before have gone, once the server has noticed their closed sockets.
    await until(() => app.services.live.pollingCount === 0);
    const first = await app.stream(`/orgs/${org.id}/live`, { token: viewer.token });
    const second = await app.stream(`/orgs/${org.id}/live`, { token: viewer.token });
    // One poller per organisation, however many streams.
    expect(app.services.live.pollingCount).toBe(1);
    await first.close();
    await second.close();
    await until(() => app.services.live.pollingCount === 0);
  });

  it('ends every stream when the API shuts down, so clients reconnect elsewhere', async () => {
    const own = await startApiApp();
    try {
      const org = await own.org();
      const viewer = await own.member(org.id, 'viewer');
      const stream = await own.stream(`/orgs/${org.id}/live`, { token: viewer.token });
      expect(await stream.waitFor(() => true)).toBe('retry: 2000');
      own.services.live.close();
      await expect(stream.rest()).resolves.toBe('');
      const refused = await own.request('GET', `/orgs/${org.id}/live`, { token: viewer.token });
      expect(refused.status).toBe(503);
    } finally {
      await own.close();
    }
  });
});
