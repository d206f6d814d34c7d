import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { closeServer, listen } from '../common/listen.js';

type Handle = (stream: Socket | ReturnType<typeof createWebSocketStream>) => void;

export interface ListenerOptions {
  host: string;
  tcpPort: number;
  /** MQTT over TLS, only when both files are configured. */
  tls?: { port: number; certFile: string; keyFile: string };
  /** MQTT over WebSocket, for browsers and gateways that only speak HTTP. */
  ws?: { port: number; path: string };
}

export interface Listeners {
  ports: { tcp: number; tls?: number; ws?: number };
  /** Stops accepting new connections; open ones are ended by the broker. */
  close(): Promise<void>;
}

/** Opens every configured transport onto the same broker. */
export async function startListeners(handle: Handle, options: ListenerOptions): Promise<Listeners> {
  const servers: Server[] = [];
  const ports: Listeners['ports'] = { tcp: 0 };

  const tcp = createTcpServer(handle);
  servers.push(tcp);
  ports.tcp = await listen(tcp, options.tcpPort, options.host);

  if (options.tls) {
    const tls = createTlsServer(
      {
        cert: readFileSync(options.tls.certFile),
        key: readFileSync(options.tls.keyFile),
        minVersion: 'TLSv1.2',
      },
      handle,
    );
    servers.push(tls);
    ports.tls = await listen(tls, options.tls.port, options.host);
  }

  if (options.ws) {
    const http = createHttpServer((_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain' }).end('Use a WebSocket MQTT client.\n');
    });
    // MQTT over WebSocket uses the "mqtt" subprotocol (MQTT-6.0.0-3); binary frames only.
    const wss = new WebSocketServer({
      server: http,
      path: options.ws.path,
      handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : false),
    });
    wss.on('connection', (socket) => handle(createWebSocketStream(socket)));
    servers.push(http);
    ports.ws = await listen(http, options.ws.port, options.host);
  }

  return {
    ports,
    close: () => Promise.all(servers.map(closeServer)).then(() => undefined),
  };
}
