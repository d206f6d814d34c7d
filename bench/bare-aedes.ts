/**
 * Baseline (a): Aedes with no hooks at all, on a plain TCP server. Forked by bench/run.ts; it
 * reports its port over IPC and closes when the runner disconnects.
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Aedes } from 'aedes';

const aedes = await Aedes.createBroker();
const server = createServer((socket) => aedes.handle(socket));
server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: (server.address() as AddressInfo).port });
});
process.on('disconnect', () => {
  server.close();
  aedes.close(() => process.exit(0));
});
