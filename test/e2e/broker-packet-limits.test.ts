import { connect as connectTcp, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { connectDevice } from '../support/mqtt-device.js';
import { startTestPlatform, type TestPlatform } from '../support/platform.js';
import { until } from '../support/wait.js';

const MAX_PACKET_BYTES = 131_072;
/** What a client announcing 200 MB gets to send at most before the broker has hung up. */
const SEND_AT_MOST = 64 * 1024 * 1024;
const ANNOUNCED = 200 * 1024 * 1024;

/** An MQTT remaining length (MQTT-2.2.3). */
function remainingLength(length: number): Buffer {
  const bytes: number[] = [];
  let rest = length;
  do {
    bytes.push((rest % 128) | (rest >= 128 ? 0x80 : 0));
    rest = Math.floor(rest / 128);
  } while (rest > 0);
  return Buffer.from(bytes);
}

const utf8 = (text: string) => {
  const bytes = Buffer.from(text, 'utf8');
  return Buffer.concat([Buffer.from([bytes.length >> 8, bytes.length & 0xff]), bytes]);
};

/** An MQTT 3.1.1 CONNECT with username and password, clean session (MQTT-3.1). */
function connectPacket(device: { id: string; secret: string }): Buffer {
  const variable = Buffer.concat([utf8('MQTT'), Buffer.from([4, 0b1100_0010, 0, 60])]);
  const payload = Buffer.concat([utf8(device.id), utf8(device.id), utf8(device.secret)]);
  const body = Buffer.concat([variable, payload]);
  return Buffer.concat([Buffer.from([0x10]), remainingLength(body.length), body]);
}

/** The fixed header of a QoS 0 PUBLISH announcing `length` more bytes. */
const publishHeader = (length: number) =>
  Buffer.concat([Buffer.from([0x30]), remainingLength(length)]);

function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/**
 * Writes zeros after `header` until the broker closes the connection or SEND_AT_MOST bytes are
 * out; returns how many bytes went out and whether the connection is closed. Each write waits
 * for the previous one, so the broker's close is noticed as it happens.
 */
async function sendUntilClosed(socket: Socket, header: Buffer) {
  let closed = false;
  socket.on('error', () => undefined);
  socket.once('close', () => (closed = true));
  const chunk = Buffer.alloc(64 * 1024);
  let sent = 0;
  const write = (data: Buffer) =>
    new Promise<Error | null | undefined>((resolve) => socket.write(data, resolve));
  if (await write(header)) return { sent, closed: true };
  while (!closed && sent < SEND_AT_MOST) {
    if (await write(chunk)) break;
    sent += chunk.length;
  }
  if (sent < SEND_AT_MOST) await until(() => closed, 'the broker to close the connection');
  return { sent, closed };
}

describe('packet size limits', () => {
  let platform: TestPlatform;
  let device: { id: string; secret: string };
  let bystander: { id: string; secret: string };

  beforeAll(async () => {
    platform = await startTestPlatform({ MQTT_MAX_PACKET_BYTES: String(MAX_PACKET_BYTES) });
    const org = await platform.createOrg('Large Packets AB');
    device = await platform.provisionDevice(org.id, 'Sender');
    bystander = await platform.provisionDevice(org.id, 'Bystander');
  });

  afterAll(async () => {
    await platform?.close();
  });

  const metricsText = async () =>
    (await fetch(`http://127.0.0.1:${platform.brokerPorts.metrics}/metrics`)).text();

  /** The broker still serves everyone else: a device connects and gets its PUBACK. */
  async function bystanderPublishes() {
    const client = await connectDevice(platform.mqttUrl, bystander);
    await client.publishAsync(
      `devices/${bystander.id}/telemetry`,
      JSON.stringify({ readings: { still_here: 1 } }),
      { qos: 1 },
    );
    await client.endAsync();
  }

  it('closes a connection whose PUBLISH announces 200 MB, before it has sent much of it', async () => {
    const socket = await openSocket(platform.mqttPort);
    const connack = new Promise<Buffer>((resolve) => socket.once('data', resolve));
    socket.write(connectPacket(device));
    expect([...(await connack)]).toEqual([0x20, 0x02, 0x00, 0x00]);
    const topic = utf8(`devices/${device.id}/telemetry`);
    const outcome = await sendUntilClosed(socket, Buffer.concat([publishHeader(ANNOUNCED), topic]));
    // The broker read the header and hung up: what got out before is what TCP buffers hold.
    expect(outcome.closed).toBe(true);
    expect(outcome.sent).toBeLessThan(SEND_AT_MOST);
    await bystanderPublishes();
    expect(await metricsText()).toMatch(/^telemoat_mqtt_oversized_packets_total 1$/m);
  });

  it('closes a connection whose CONNECT announces 200 MB, before authenticating anyone', async () => {
    const socket = await openSocket(platform.mqttPort);
    const header = Buffer.concat([Buffer.from([0x10]), remainingLength(ANNOUNCED)]);
    const outcome = await sendUntilClosed(socket, header);
    expect(outcome.closed).toBe(true);
    expect(outcome.sent).toBeLessThan(SEND_AT_MOST);
    await bystanderPublishes();
  });

  it('refuses a WebSocket message larger than a packet (close code 1009) and a PUBLISH announcing 200 MB', async () => {
    const url = `ws://127.0.0.1:${platform.brokerPorts.ws}/mqtt`;
    const open = async () => {
      const ws = new WebSocket(url, 'mqtt');
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      const state: { closedWith?: number } = {};
      ws.on('error', () => undefined);
      ws.once('close', (code) => (state.closedWith = code));
      const closedWith = async () => {
        await until(() => state.closedWith !== undefined, 'the broker to close the WebSocket');
        return state.closedWith;
      };
      return { ws, closedWith };
    };

    const tooLarge = await open();
    tooLarge.ws.send(Buffer.alloc(MAX_PACKET_BYTES + 1));
    expect(await tooLarge.closedWith()).toBe(1009);

    const announcing = await open();
    announcing.ws.send(connectPacket(device));
    announcing.ws.send(Buffer.concat([publishHeader(ANNOUNCED), Buffer.alloc(1024)]));
    expect(await announcing.closedWith()).not.toBe(1000);
    await bystanderPublishes();
  });
});
