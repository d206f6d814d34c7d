import { afterEach, describe, expect, it } from 'vitest';
import { STREAM_LIMIT_DEFAULTS } from '../../api/live/stream-guard.js';
import { startApiApp, type ApiApp, type EventStream } from '../support/api-app.js';
import { until } from '../support/wait.js';

/**
 * Open live streams cost the API a socket and a place in its organisation's fan-out for as long
 * as they last, so each user and each client address may hold only so many at once.
 */
describe('live stream caps', () => {
  let app: ApiApp;

  afterEach(async () => {
    await app.close();
  });

  async function started() {
    app = await startApiApp();
    const org = await app.org();
    return { org, livePath: `/orgs/${org.id}/live` };
  }

  async function openMany(path: string, token: string, count: number): Promise<EventStream[]> {
    const streams = await Promise.all(
      Array.from({ length: count }, () => app.stream(path, { token })),
    );
    expect(streams.map((s) => s.status)).toEqual(streams.map(() => 200));
    return streams;
  }

  async function refused(path: string, token: string) {
    const stream = await app.stream(path, { token });
    const body = JSON.parse(await stream.rest()) as unknown;
    return { status: stream.status, retryAfter: stream.headers.get('retry-after'), body };
  }

  it('allows LIVE_STREAMS_PER_USER open streams per user, over all their sessions, then 429 with Retry-After', async () => {
    const { org, livePath } = await started();
    const viewer = await app.member(org.id, 'viewer');
    const half = STREAM_LIMIT_DEFAULTS.perUser / 2;
    const secondSession = (await app.signInAs(viewer.userId)).accessToken;
    const streams = [
      ...(await openMany(livePath, viewer.token, half)),
      ...(await openMany(livePath, secondSession, half)),
    ];
    expect(await refused(livePath, viewer.token)).toEqual({
      status: 429,
      retryAfter: '5',
      body: {
        code: 'RATE_LIMITED',
        message: expect.any(String) as string,
        details: { retryAfterSeconds: 5 },
      },
    });
    // Another user of the same address is not held back by this one.
    const other = await app.member(org.id, 'viewer');
    const theirs = await app.stream(livePath, { token: other.token });
    expect(theirs.status).toBe(200);
    // Still one poller for the organisation, however many streams.
    expect(app.services.live.pollingCount).toBe(1);

    // A closed stream gives its place back once the server has seen it close.
    await streams[0]!.close();
    let again: EventStream | undefined;
    await until(async () => {
      const attempt = await app.stream(livePath, { token: viewer.token });
      if (attempt.status === 200) again = attempt;
      else await attempt.rest();
      return again !== undefined;
    }, 'a place after closing a stream');
    expect(again?.status).toBe(200);
  });

  it('gives the place of a stream refused after admission back at once', async () => {
    const { org, livePath } = await started();
    const viewer = await app.member(org.id, 'viewer');
    const unknownDevice = '00000000-0000-4000-8000-000000000000';
    for (let i = 0; i < STREAM_LIMIT_DEFAULTS.perUser + 1; i++) {
      const answer = await app.request('GET', livePath, {
        token: viewer.token,
        query: { devices: unknownDevice },
      });
      expect(answer.status).toBe(404);
    }
    await openMany(livePath, viewer.token, STREAM_LIMIT_DEFAULTS.perUser);
  });

  it('allows LIVE_STREAMS_PER_IP open streams per client address, whoever signed in', async () => {
    const { org, livePath } = await started();
    const users = STREAM_LIMIT_DEFAULTS.perIp / STREAM_LIMIT_DEFAULTS.perUser;
    for (let i = 0; i < users; i++) {
      const viewer = await app.member(org.id, 'viewer');
      await openMany(livePath, viewer.token, STREAM_LIMIT_DEFAULTS.perUser);
    }
    const latecomer = await app.member(org.id, 'viewer');
    const answer = await refused(livePath, latecomer.token);
    expect(answer).toMatchObject({ status: 429, retryAfter: '5' });
    expect(answer.body).toMatchObject({ code: 'RATE_LIMITED' });
  });

  it('P9: a stream ended by its session ending gives its place back', async () => {
    const { org, livePath } = await started();
    const viewer = await app.member(org.id, 'viewer');
    const streams = await openMany(livePath, viewer.token, STREAM_LIMIT_DEFAULTS.perUser);
    const fresh = (await app.signInAs(viewer.userId)).accessToken;
    expect((await refused(livePath, fresh)).status).toBe(429);
    expect((await app.request('POST', '/auth/logout', { token: viewer.token })).status).toBe(204);
    app.clock.advance(STREAM_LIMIT_DEFAULTS.recheckMs);
    await Promise.all(streams.map((s) => s.rest()));
    await openMany(livePath, fresh, STREAM_LIMIT_DEFAULTS.perUser);
  });
});
