import net from 'node:net';

const HOST = '127.0.0.1';

/**
 * Returns `preferred` when it can be bound on 127.0.0.1, otherwise a port chosen by the OS.
 * The probe socket is closed before returning, so another process could in theory grab the
 * port before the server binds it; the server's start-up then fails loudly rather than silently.
 */
export async function freePort(preferred?: number): Promise<number> {
  if (preferred !== undefined) {
    const port = await tryListen(preferred);
    if (port !== undefined) return port;
  }
  const port = await tryListen(0);
  if (port === undefined) throw new Error(`Could not find a free TCP port on ${HOST}`);
  return port;
}

function tryListen(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(undefined));
    server.listen({ host: HOST, port, exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : undefined;
      server.close(() => resolve(bound));
    });
  });
}
