import type { Duplex } from 'node:stream';

/**
 * Admission control for publishes. Aedes reads a connection's next chunk as soon as every packet
 * of the previous one is handled, and handles a chunk's packets all at once, so under overload
 * each connection keeps a socket read's worth of messages (hundreds) in the broker. With a
 * thousand devices the heap grows by hundreds of megabytes, garbage collection takes the CPU
 * and the broker acknowledges fewer messages than when it was merely busy.
 *
 * The window bounds the messages being made durable. While it is full, Aedes's reads of a
 * connection return nothing, the socket's buffer fills, TCP flow control holds the device back,
 * and the broker keeps working at its own pace. A held connection is woken once the window has
 * room, one at a time, so the wake-up itself cannot overfill it.
 */
export interface IngestWindow {
  /** Puts a connection's reads under the window; Aedes reads a connection with `read()`. */
  attach(conn: Duplex): void;
  /** A publish started being made durable. */
  enter(): void;
  /** A publish was acknowledged or refused. */
  leave(): void;
  /** Publishes being made durable now. */
  inFlight(): number;
  /** Connections waiting for room. */
  held(): number;
}

export function createIngestWindow(maxInFlight: number): IngestWindow {
  let inFlight = 0;
  let wakeScheduled = false;
  // Insertion order: the connection held longest is woken first.
  const waiting = new Set<Duplex>();

  function attach(conn: Duplex): void {
    // Aedes reads the socket in paused mode, which hands out Buffers (or nothing).
    const read = conn.read.bind(conn) as (size?: number) => Buffer | null;
    conn.read = (size?: number): Buffer | null => {
      // The stream itself calls read(0) to refill its buffer; that never hands out data.
      if (size === 0) return read(size);
      if (inFlight >= maxInFlight) {
        waiting.add(conn);
        return null;
      }
      waiting.delete(conn);
      return read(size);
    };
  }

  function wake(): void {
    for (const conn of waiting) {
      if (inFlight >= maxInFlight) return;
      waiting.delete(conn);
      // Aedes reads on 'readable'; handling the chunk it reads enters its publishes right away,
      // so the loop sees the window fill as it goes.
      if (!conn.destroyed) conn.emit('readable');
    }
  }

  return {
    attach,
    enter() {
      inFlight++;
    },
    leave() {
      inFlight--;
      // After the current turn: a group commit acknowledges many publishes in a row, and the
      // connections are better woken once they all left than in the middle of that.
      if (waiting.size > 0 && !wakeScheduled) {
        wakeScheduled = true;
        setImmediate(() => {
          wakeScheduled = false;
          wake();
        });
      }
    },
    inFlight: () => inFlight,
    held: () => waiting.size,
  };
}
