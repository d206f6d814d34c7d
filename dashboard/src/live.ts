import { bearer, refresh } from './api';

export interface LiveReading {
  time: string;
  deviceId: string;
  metric: string;
  value: number | boolean;
}

/**
 * Reads the SSE stream `GET /orgs/:orgId/live` with fetch, because EventSource cannot send the
 * Authorization header. Reconnects with backoff; a 401 refreshes the token first.
 * Returns a function that stops it.
 */
export function subscribeLive(
  orgId: string,
  deviceIds: string[],
  onReading: (reading: LiveReading) => void,
  onState: (state: 'connecting' | 'live' | 'retrying') => void,
): () => void {
  const controller = new AbortController();
  let delay = 1000;

  async function connectOnce(): Promise<void> {
    onState('connecting');
    const query = deviceIds.length ? `?devices=${deviceIds.map(encodeURIComponent).join(',')}` : '';
    const token = bearer();
    const response = await fetch(`/api/v1/orgs/${orgId}/live${query}`, {
      headers: {
        accept: 'text/event-stream',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      credentials: 'same-origin',
      signal: controller.signal,
    });
    if (response.status === 401) {
      await refresh();
      throw new Error('unauthorised');
    }
    if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
    onState('live');
    delay = 1000;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end: number;
      while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split(/\r?\n/)) {
          if (line.startsWith(':')) continue;
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
        if (event === 'reading' && data.length) {
          try {
            onReading(JSON.parse(data.join('\n')) as LiveReading);
          } catch {
            // A malformed event is skipped; the next one is independent.
          }
        }
      }
    }
  }

  void (async () => {
    while (!controller.signal.aborted) {
      try {
        await connectOnce();
      } catch {
        // Fall through to the retry below.
      }
      if (controller.signal.aborted) return;
      onState('retrying');
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 30_000);
    }
  })();
  return () => controller.abort();
}
