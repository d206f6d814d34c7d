import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { limitPacketSize } from '../../broker/packet-size-guard.js';

/** A connection as Aedes reads it: chunks written by the peer, read with `read()`. */
function guardedConnection(maxBytes: number) {
  const conn = new PassThrough();
  let oversized = 0;
  limitPacketSize(conn, maxBytes, () => oversized++);
  return {
    conn,
    oversized: () => oversized,
    /** What the broker's parser gets of `chunk`. */
    deliver: (chunk: Buffer): Buffer | null => {
      conn.write(chunk);
      return conn.read() as Buffer | null;
    },
  };
}

/** The fixed header of a QoS 0 PUBLISH whose remaining length is `bodyBytes` (MQTT-2.2.3). */
function publishHeader(bodyBytes: number): Buffer {
  const length: number[] = [];
  let rest = bodyBytes;
  do {
    length.push((rest % 128) | (rest >= 128 ? 0x80 : 0));
    rest = Math.floor(rest / 128);
  } while (rest > 0);
  return Buffer.from([0x30, ...length]);
}

const publish = (bodyBytes: number) =>
  Buffer.concat([publishHeader(bodyBytes), Buffer.alloc(bodyBytes)]);

describe('packet size guard', () => {
  it('passes packets up to the limit, whole, split and back to back', () => {
    const { deliver, conn, oversized } = guardedConnection(1000);
    const atLimit = publish(997); // 1 type byte + 2 length bytes + 997
    expect(atLimit.length).toBe(1000);
    expect(deliver(atLimit)).toEqual(atLimit);
    const twoPackets = Buffer.concat([publish(10), publish(500)]);
    expect(deliver(twoPackets.subarray(0, 13))).toHaveLength(13);
    // The next header is split between chunks.
    expect(deliver(twoPackets.subarray(13, 14))).toHaveLength(1);
    expect(deliver(twoPackets.subarray(14))).toHaveLength(twoPackets.length - 14);
    expect(oversized()).toBe(0);
    expect(conn.destroyed).toBe(false);
  });

  it('closes the connection on a header that announces more, before any of the body', () => {
    const { deliver, conn, oversized } = guardedConnection(1000);
    expect(deliver(publish(10))).not.toBeNull();
    expect(deliver(publish(998))).toBeNull();
    expect(oversized()).toBe(1);
    expect(conn.destroyed).toBe(true);
  });

  it('closes on 200 MB announced in the fixed header alone, even split byte by byte', () => {
    const { deliver, conn, oversized } = guardedConnection(131_072);
    // 200 MiB is 100 × 128³: the length bytes are 0x80 0x80 0x80 0x64, the last one decides.
    const header = publishHeader(200 * 1024 * 1024);
    for (let at = 0; at < 4; at++) expect(deliver(header.subarray(at, at + 1))).not.toBeNull();
    expect(deliver(header.subarray(4, 5))).toBeNull();
    expect(oversized()).toBe(1);
    expect(conn.destroyed).toBe(true);
  });

  it('closes on a remaining length longer than four bytes (MQTT-2.2.3)', () => {
    const { deliver, oversized } = guardedConnection(16_777_216);
    expect(deliver(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80, 0x01]))).toBeNull();
    expect(oversized()).toBe(1);
  });
});
