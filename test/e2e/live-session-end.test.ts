import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';
import { PATIENCE_MS } from '../support/wait.js';

/** An open live stream, read to its end in the background. */
interface OpenStream {
  /** Everything received so far. */
  text(): string;
  /** Resolves with the whole text once the server ends the stream; rejects after `ms`. */
  ended(ms?: number): Promise<string>;
  close(): void;
}

describe('P9: open live streams end with the session and the membership (whole platform)', () => {
  let platform: TestPlatform;
  let org: { id: string; tenantKey: string };
  let ownerToken: string;
  const streams: OpenStream[] = [];

  async function open(token: string): Promise<OpenStream> {
    const abort = new AbortController();
    const response = await fetch(`${platform.apiUrl}/api/v1/orgs/${org.id}/live`, {
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
      signal: abort.signal,
    });
    expect(response.status).toBe(200);
    let text = '';
    const decoder = new TextDecoder();
    const reading = (async () => {
      for await (const bytes of response.body as AsyncIterable<Uint8Array>) {
        text += decoder.decode(bytes, { stream: true });
      }
      return text;
    })();
    reading.catch(() => undefined);
    const stream: OpenStream = {
      text: () => text,
      async ended(ms = PATIENCE_MS) {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<never>((_resolve, reject) => {
          timer = setTimeout(() => reject(new Error(`still open after ${ms} ms: ${text}`)), ms);
        });
        return Promise.race([reading, timeout]).finally(() => clearTimeout(timer));
      },
      close: () => abort.abort(),
    };
    streams.push(stream);
    return stream;
  }

  const endEvent = (text: string) => {
    const match = /event: end\ndata: (.*)\n\n$/.exec(text);
    return match ? (JSON.parse(match[1]!) as { code: string }) : null;
  };

  beforeAll(async () => {
    // Re-checked often, so that an ended session shows within moments on the real clock.
    platform = await startTestPlatform({ STREAM_RECHECK_MS: '200' });
    org = await platform.createOrg('Session End Co');
    const owner = await platform.createMember(org.id, 'owner');
    ownerToken = await platform.login(owner.email, owner.password);
  });

  afterAll(async () => {
    for (const stream of streams) stream.close();
    await platform?.close();
  });

  it('P9: logout ends the stream of that session with UNAUTHENTICATED', async () => {
    const viewer = await platform.createMember(org.id, 'viewer');
    const token = await platform.login(viewer.email, viewer.password);
    const stream = await open(token);
    const kept = await open(ownerToken);

    const logout = await platform.send('POST', '/api/v1/auth/logout', undefined, { token });
    expect(logout.status).toBe(204);
    const text = await stream.ended();
    expect(text).toMatch(/^retry: 2000\n\n/);
    expect(endEvent(text)).toMatchObject({ code: 'UNAUTHENTICATED' });
    // Another session's stream was re-checked in the same rounds and goes on.
    expect(endEvent(kept.text())).toBeNull();
  });

  it('P2: removal from the organisation ends the stream with NOT_FOUND', async () => {
    const viewer = await platform.createMember(org.id, 'viewer');
    const token = await platform.login(viewer.email, viewer.password);
    const stream = await open(token);

    const removed = await platform.send(
      'DELETE',
      `/api/v1/orgs/${org.id}/members/${viewer.userId}`,
      undefined,
      { token: ownerToken },
    );
    expect(removed.status).toBe(204);
    expect(endEvent(await stream.ended())).toMatchObject({ code: 'NOT_FOUND' });
    // The account and its session remain; the organisation's readings do not.
    expect((await platform.get('/api/v1/me', token)).status).toBe(200);
  });
});
