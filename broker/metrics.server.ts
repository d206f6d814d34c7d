import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { closeServer, listen } from '../common/listen.js';

/** Serves `/metrics` for Prometheus and `/healthz` for orchestrators, on its own port. */
export async function startMetricsServer(
  registry: Registry,
  options: { host: string; port: number; ready: () => boolean },
): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.url === '/metrics') {
      registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
        () => res.writeHead(500).end(),
      );
    } else if (req.url === '/healthz') {
      const ready = options.ready();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: ready ? 'ok' : 'stopping' }));
    } else {
      res.writeHead(404).end();
    }
  });
  return {
    port: await listen(server, options.port, options.host),
    close: () => closeServer(server),
  };
}
