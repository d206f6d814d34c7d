import { describe, expect, it } from 'vitest';
import { STREAM_LIMIT_DEFAULTS } from '../../api/live/stream-guard.js';
import { fakePasswordHash } from '../../directory/accounts/accounts.fake.js';
import {
  PASSWORD,
  startApiApp,
  TERMS_VERSION,
  useApiApp,
  type EventStream,
} from '../support/api-app.js';
import { PATIENCE_MS } from '../support/wait.js';

const isReading = (frame: string) => frame.startsWith('event: reading\n');
const isEnd = (frame: string) => frame.startsWith('event: end\n');
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

  describe('P9: a stream ends with the session, the token or the membership it was opened with', () => {
    /** Moves the API's clock one re-check interval on; resolves with the code the stream ended with. */
    async function endOf(stream: EventStream): Promise<unknown> {
      app.clock.advance(STREAM_LIMIT_DEFAULTS.recheckMs);
      const frame = await stream.waitFor(isEnd, PATIENCE_MS);
      // The server closes the stream after its last event.
      await expect(stream.rest()).resolves.toBe('');
      return dataOf(frame).code;
    }

    async function viewerStream() {
      const org = await app.org();
      const owner = await app.member(org.id, 'owner');
      const viewer = await app.member(org.id, 'viewer');
      const device = await app.device(org, 'Watched');
      const stream = await app.stream(`/orgs/${org.id}/live`, { token: viewer.token });
      expect(stream.status).toBe(200);
      return { org, owner, viewer, device, stream };
    }

    it('P9: logout ends the streams of that session, not those of another session', async () => {
      const { org, viewer, device, stream } = await viewerStream();
      const otherSession = await app.signInAs(viewer.userId);
      const kept = await app.stream(`/orgs/${org.id}/live`, { token: otherSession.accessToken });
      expect(await kept.waitFor(() => true)).toBe('retry: 2000');

      expect((await app.request('POST', '/auth/logout', { token: viewer.token })).status).toBe(204);
      expect(await endOf(stream)).toBe('UNAUTHENTICATED');

      // Re-checked in the same round, and still delivering.
      app.readings(device, [{ metric: 'level', value: 7, time: app.clock.now() - 1000 }]);
      expect(dataOf(await kept.waitFor(isReading, PATIENCE_MS))).toMatchObject({ value: 7 });
      await kept.close();
    });

    it('P9: logout-all ends the streams of every session of the user', async () => {
      const { org, viewer, stream } = await viewerStream();
      const second = await app.stream(`/orgs/${org.id}/live`, {
        token: (await app.signInAs(viewer.userId)).accessToken,
      });
      expect(second.status).toBe(200);
      const answer = await app.request('POST', '/auth/logout-all', { token: viewer.token });
      expect(answer.status).toBe(204);
      expect(await endOf(stream)).toBe('UNAUTHENTICATED');
      expect(dataOf(await second.waitFor(isEnd, PATIENCE_MS)).code).toBe('UNAUTHENTICATED');
    });

    it('P9: a reused refresh token ends the stream of the session it revoked', async () => {
      const { org, viewer } = await viewerStream();
      const tokens = await app.signInAs(viewer.userId);
      const stream = await app.stream(`/orgs/${org.id}/live`, { token: tokens.accessToken });
      expect(stream.status).toBe(200);
      const refresh = () =>
        app.request('POST', '/auth/refresh', { body: { refreshToken: tokens.refreshToken } });
      expect((await refresh()).status).toBe(200);
      // The same token again: theft assumed, the whole session ends.
      expect((await refresh()).status).toBe(401);
      expect(await endOf(stream)).toBe('UNAUTHENTICATED');
    });

    it('P9: the access token expiring ends the stream; the client must come back with a new one', async () => {
      const { stream } = await viewerStream();
      app.clock.advance(900 * 1000);
      expect(await endOf(stream)).toBe('UNAUTHENTICATED');
    });

    it('P2: removal from the organisation ends the stream with the 404 a new request would get', async () => {
      const { org, owner, viewer, stream } = await viewerStream();
      const removed = await app.request('DELETE', `/orgs/${org.id}/members/${viewer.userId}`, {
        token: owner.token,
      });
      expect(removed.status).toBe(204);
      expect(await endOf(stream)).toBe('NOT_FOUND');
      const again = await app.request('GET', `/orgs/${org.id}/live`, { token: viewer.token });
      expect(again.status).toBe(404);
    });

    it('P6: deleting the account ends its stream', async () => {
      const org = await app.org();
      const owner = await app.member(org.id, 'owner');
      // An account the organisation's invitation created: the kind it may delete.
      const userId = await app.stores.users.create({
        email: `invited-${org.id}@example.test`,
        displayName: 'Invited Person',
        passwordHash: fakePasswordHash(PASSWORD),
        verified: true,
        origin: 'invitation',
        termsVersion: TERMS_VERSION,
        createdByOrgId: org.id,
      });
      await app.stores.organisations.addMember(org.id, userId, 'viewer');
      const { accessToken } = await app.signInAs(userId);
      const stream = await app.stream(`/orgs/${org.id}/live`, { token: accessToken });
      expect(stream.status).toBe(200);
      const deleted = await app.request('DELETE', `/orgs/${org.id}/members/${userId}/account`, {
        token: owner.token,
      });
      expect(deleted.status).toBe(204);
      expect(['UNAUTHENTICATED', 'NOT_FOUND']).toContain(await endOf(stream));
    });

    it('ends a stream with SERVICE_UNAVAILABLE once the directory has not answered for three rounds', async () => {
      const { device, stream } = await viewerStream();
      // The directory is down; counting its refused calls shows when a round has run.
      let refused = 0;
      Object.defineProperty(app.faults, 'directory', {
        configurable: true,
        get: () => {
          refused += 1;
          return new Error('Postgres is down');
        },
      });
      try {
        for (let round = 1; round < 3; round++) {
          const before = refused;
          app.clock.advance(STREAM_LIMIT_DEFAULTS.recheckMs);
          // The token and the membership lookup, both refused.
          await until(() => refused >= before + 2, PATIENCE_MS);
        }
        // Two rounds unanswered: neither refused nor confirmed, so still delivering.
        app.readings(device, [{ metric: 'level', value: 3, time: app.clock.now() - 1000 }]);
        expect(dataOf(await stream.waitFor(isReading, PATIENCE_MS))).toMatchObject({ value: 3 });
        expect(await endOf(stream)).toBe('SERVICE_UNAVAILABLE');
      } finally {
        Object.defineProperty(app.faults, 'directory', {
          configurable: true,
          writable: true,
          value: undefined,
        });
      }
    });
  });
});
