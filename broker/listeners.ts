import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer as createTcpServer, type Server } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer } from 'node:tls';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { closeServer, listen } from '../common/listen.js';
import { limitPacketSize } from './packet-size-guard.js';

/** Aedes's `handle`: a WebSocket's upgrade request tells the broker the client's address. */
type Handle = (stream: Duplex, req?: IncomingMessage) => void;

export interface ListenerOptions {
  host: string;
  tcpPort: number;
  /** The largest MQTT packet a client may send, fixed header included. */
  maxPacketBytes: number;
  /** A connection was closed for announcing a larger packet. */
  onOversizedPacket: () => void;
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
  const guarded = (stream: Duplex, req?: IncomingMessage) => {
    limitPacketSize(stream, options.maxPacketBytes, options.onOversizedPacket);
    handle(stream, req);
  };

  const tcp = createTcpServer((socket) => guarded(socket));
  servers.push(tcp);
  ports.tcp = await listen(tcp, options.tcpPort, options.host);

  if (options.tls) {
    const tls = createTlsServer(
      {
        cert: readFileSync(options.tls.certFile),
        key: readFileSync(options.tls.keyFile),
        minVersion: 'TLSv1.2',
      },
      (socket) => guarded(socket),
    );
    servers.push(tls);
    ports.tls = await listen(tls, options.tls.port, options.host);
  }

  if (options.ws) {
    const http = createHttpServer((_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain' }).end('Use a WebSocket MQTT client.\n');
    });
    // MQTT over WebSocket uses the "mqtt" subprotocol (MQTT-6.0.0-3); binary frames only.
    // ws holds a whole message before handing it on, up to `maxPayload` (100 MiB unless set).
    // Packets need not align with messages (MQTT-6.0.0-2), so the packet limit is checked on the
    // stream as on TCP; a message larger than one whole packet is refused with close code 1009.
    const wss = new WebSocketServer({
      server: http,
      path: options.ws.path,
      maxPayload: options.maxPacketBytes,
      handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : false),
    });
    wss.on('connection', (socket, req) => guarded(createWebSocketStream(socket), req));
    servers.push(http);
    ports.ws = await listen(http, options.ws.port, options.host);
  }

  return {
    ports,
    close: () => Promise.all(servers.map(closeServer)).then(() => undefined),
  };
}
