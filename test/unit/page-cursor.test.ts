import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { mosquittoPubExample } from '../../api/devices/devices.routes.js';
import { decodeCursor, encodeCursor, pageOf } from '../../api/http/page-cursor.js';

describe('opaque page cursors', () => {
  const position = z.tuple([z.string(), z.string()]);

  it('round-trips a position and says whether there is a next page', () => {
    const rows = ['a', 'b', 'c'];
    const page = pageOf(rows, 2, (row) => [row, row.toUpperCase()]);
    expect(page.items).toEqual(['a', 'b']);
    expect(decodeCursor(position, page.nextCursor!)).toEqual(['b', 'B']);
    expect(pageOf(rows, 3, (row) => [row, row]).nextCursor).toBeNull();
  });

  it.each(['', 'bm90LWpzb24', encodeCursor({ name: 'x' }), encodeCursor(['x', 1])])(
    'refuses %j with 400',
    (cursor) => {
      expect(() => decodeCursor(position, cursor)).toThrow(
        expect.objectContaining({ code: 'VALIDATION_FAILED' }) as Error,
      );
    },
  );
});

describe('the mosquitto_pub example that comes with a new secret', () => {
  it('uses the broker address, and TLS with the system CAs for mqtts', () => {
    expect(mosquittoPubExample('mqtt://broker.example:1884', 'dev_1', 's3cret')).toBe(
      "mosquitto_pub -h 'broker.example' -p 1884 -q 1 -i 'dev_1' -u 'dev_1' -P 's3cret' " +
        `-t 'devices/dev_1/telemetry' -m '{"readings": {"temperature": 21.5}}'`,
    );
    expect(mosquittoPubExample('mqtts://broker.example', 'dev_1', 's')).toMatch(
      /^mosquitto_pub -h 'broker\.example' -p 8883 --capath \/etc\/ssl\/certs -q 1 /,
    );
  });
});
