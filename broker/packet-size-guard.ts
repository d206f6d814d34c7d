import type { Duplex } from 'node:stream';

/**
 * Closes a connection as soon as a packet's fixed header announces more than `maxBytes`.
 *
 * Aedes's parser (mqtt-packet) has no size limit: it keeps every byte of a packet until the
 * whole remaining length has arrived, and MQTT 3.1.1 lets a packet announce up to 256 MB
 * (§2.2.3). The payload limit of the ingest rules applies only to a complete packet, so without
 * this a client could make the broker hold hundreds of megabytes per connection first. 3.1.1
 * has no way to refuse one packet, so the connection is closed; MQTT 5 names the same limit
 * Maximum Packet Size (§3.2.2.3.6) and closes with reason 0x95.
 *
 * It reads only the fixed headers, in the bytes Aedes reads from the connection (Aedes reads
 * in paused mode, with `read()`), and skips the bodies by count; nothing is copied.
 */
export function limitPacketSize(conn: Duplex, maxBytes: number, onOversized: () => void): void {
  // Where the stream is: in a fixed header (`headerBytes` of it seen), or in a body (`skip` left).
  let skip = 0;
  let headerBytes = 0;
  let remaining = 0;

  /** False once a packet is too large, or its remaining length malformed (MQTT-2.2.3: 4 bytes). */
  function scan(chunk: Buffer): boolean {
    let at = 0;
    while (at < chunk.length) {
      if (skip > 0) {
        const passed = Math.min(skip, chunk.length - at);
        skip -= passed;
        at += passed;
        continue;
      }
      const byte = chunk[at++]!;
      if (headerBytes === 0) {
        // The packet type and flags; the remaining length follows.
        headerBytes = 1;
        remaining = 0;
        continue;
      }
      remaining += (byte & 0x7f) * 128 ** (headerBytes - 1);
      headerBytes++;
      if (headerBytes + remaining > maxBytes) return false;
      if (byte & 0x80) {
        if (headerBytes > 4) return false;
        continue;
      }
      skip = remaining;
      headerBytes = 0;
    }
    return true;
  }

  const read = conn.read.bind(conn) as (size?: number) => Buffer | null;
  conn.read = (size?: number): Buffer | null => {
    const chunk = read(size);
    if (chunk === null || scan(chunk)) return chunk;
    conn.destroy();
    onOversized();
    return null;
  };
}
