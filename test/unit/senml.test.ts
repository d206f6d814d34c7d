import { describe, expect, it } from 'vitest';
import * as recording from '../support/recording-ingest.js';

const { testNow: now } = recording;
const { tenantKey, deviceKey } = recording.testIdentity;
const nowSeconds = now / 1000;
const limits = recording.testIngestLimits({ maxPayloadBytes: 2048, maxReadingsPerMessage: 10 });
const setup = () => recording.recordingIngest(limits, now, 'senml');

/** Accepts `pack` and returns what was stored, as [metric, value, time] triples. */
async function store(pack: unknown): Promise<[string, number | boolean, number][]> {
  const { written, accept } = setup();
  const result = await accept(pack);
  expect(result).toMatchObject({ accepted: true });
  expect(written).toHaveLength(1);
  return written[0]!.map((p) => [p.metric, p.value, p.time]);
}

describe('SenML ingest (RFC 8428)', () => {
  it('stores a single data point at the receive time, as the Telemoat path does (§5.1.1)', async () => {
    const { written, accept } = setup();
    const result = await accept([{ n: 'temperature', u: 'Cel', v: 23.1 }]);
    expect(result).toEqual({ accepted: true, readings: 1 });
    expect(written).toEqual([
      [{ tenantKey, deviceKey, metric: 'temperature', value: 23.1, time: now }],
    ]);
  });

  // §5.1.2, second example, with `urn:dev:ow:10e2073a01080063:` as base name replaced by a
  // metric prefix and the base time moved to our "now" (still with its extra millisecond).
  const multipleDataPoints = [
    { bn: 'mains_', bt: nowSeconds + 0.001, bu: 'A', n: 'voltage', u: 'V', v: 120.1 },
    { n: 'current', t: -5, v: 1.2 },
    { n: 'current', t: -4, v: 1.3 },
    { n: 'current', t: -3, v: 1.4 },
    { n: 'current', t: -2, v: 1.5 },
    { n: 'current', t: -1, v: 1.6 },
    { n: 'current', v: 1.7 },
  ];
  const multipleDataPointsStored = [
    ['mains_voltage', 120.1, now + 1],
    ['mains_current', 1.2, now - 4999],
    ['mains_current', 1.3, now - 3999],
    ['mains_current', 1.4, now - 2999],
    ['mains_current', 1.5, now - 1999],
    ['mains_current', 1.6, now - 999],
    ['mains_current', 1.7, now + 1],
  ];

  it('applies bn and bt to every later record, times relative to bt (§5.1.2, §4.6)', async () => {
    expect(await store(multipleDataPoints)).toEqual(multipleDataPointsStored);
  });

  it('stores the resolved form of a pack exactly like the pack itself (§5.1.4)', async () => {
    const resolved = multipleDataPointsStored.map(([n, v, ms]) => ({
      n,
      u: n === 'mains_voltage' ? 'V' : 'A',
      v,
      t: (ms as number) / 1000,
    }));
    expect(await store(resolved)).toEqual(multipleDataPointsStored);
  });

  it('stores numbers and booleans (§5.1.5 without its string and data values)', async () => {
    const pack = [
      { bn: 'machine_room_', n: 'temperature', u: 'Cel', v: 23.1 },
      { n: 'door_open', vb: false },
    ];
    expect(await store(pack)).toEqual([
      ['machine_room_temperature', 23.1, now],
      ['machine_room_door_open', false, now],
    ]);
  });

  it('adds the base value to numbers only, until a record sets it again (§4.5.4, §4.6)', async () => {
    const pack = [
      { bv: 20, n: 'temperature', v: 1.5 },
      { n: 'setpoint', v: 1 },
      { n: 'heating', vb: true },
      { bv: 0, n: 'humidity', v: 40 },
    ];
    expect(await store(pack)).toEqual([
      ['temperature', 21.5, now],
      ['setpoint', 21, now],
      ['heating', true, now],
      ['humidity', 40, now],
    ]);
  });

  it('prefixes the base name until a record sets it again, and uses it alone without n', async () => {
    const pack = [
      { bn: 'tank_a_', n: 'level', v: 1 },
      { n: 'pressure', v: 2 },
      { bn: 'tank_b_', n: 'level', v: 3 },
      { bn: 'pressure', v: 4 },
    ];
    expect((await store(pack)).map(([metric]) => metric)).toEqual([
      'tank_a_level',
      'tank_a_pressure',
      'tank_b_level',
      'pressure',
    ]);
  });

  it('reads times below 2^28 s as relative to now, the rest as Unix seconds (§4.5.3)', async () => {
    const pack = [
      { n: 'missing', v: 1 },
      { n: 'relative', t: -90, v: 1 },
      { n: 'rounded_up', t: 0.0006, v: 1 },
      { n: 'absolute', t: nowSeconds - 60.0004, v: 1 },
      { bt: nowSeconds, n: 'from_base', t: -30, v: 1 },
    ];
    expect((await store(pack)).map(([metric, , time]) => [metric, time - now])).toEqual([
      ['missing', 0],
      ['relative', -90_000],
      ['rounded_up', 1],
      ['absolute', -60_000],
      ['from_base', -30_000],
    ]);
  });

  it.each([
    // 2^28 - 1 s is relative: eight and a half years from now. 2^28 s is absolute: 1978.
    ['timestamp_in_future', [{ n: 'temperature', t: 2 ** 28 - 1, v: 1 }]],
    ['timestamp_too_old', [{ n: 'temperature', t: 2 ** 28, v: 1 }]],
    ['timestamp_in_future', [{ n: 'temperature', t: 6 * 60, v: 1 }]],
    ['timestamp_too_old', [{ n: 'temperature', t: -31 * 86_400, v: 1 }]],
    ['too_many_readings', Array.from({ length: 11 }, (_, i) => ({ n: `m${i}`, v: i }))],
    ['payload_too_large', [{ n: 'x'.repeat(3000), v: 1 }]],
    ['bad_json', '[{"n":"temperature","v":1}'],
  ])('applies the checks of the Telemoat path: %s, %j', async (reason, pack) => {
    const { written, accept } = setup();
    expect(await accept(pack)).toMatchObject({ accepted: false, reason });
    expect(written).toEqual([]);
  });

  it.each([
    ['a string value (vs)', [{ n: 'label', vs: 'Machine Room' }]],
    ['a data value (vd)', [{ n: 'nfc_reader', vd: 'aGkgCg' }]],
    ['a sum (s)', [{ n: 'energy', s: 1200 }]],
    ['a base sum (bs)', [{ bs: 1, n: 'energy', v: 1 }]],
    ['an unknown field', [{ n: 'temperature', v: 1, colour: 'red' }]],
    ['a must-understand field (§4.4)', [{ n: 'temperature', v: 1, x_: 1 }]],
    ['a version other than 10', [{ bver: 5, n: 'temperature', v: 1 }]],
    ['a URN name (colon)', [{ bn: 'urn:dev:ow:10e2073a01080063:', n: 'temp', v: 1 }]],
    ['an uppercase name', [{ n: 'Temperature', v: 1 }]],
    ['a newline in the name', [{ n: 'temp\nevil', v: 1 }]],
    ['a comma in the name', [{ n: 'temp,device=x', v: 1 }]],
    ['a space in the name', [{ n: 'room temp', v: 1 }]],
    ['a quote in the name', [{ n: 'temp"', v: 1 }]],
    ['an equals sign in the name', [{ n: 'temp=1', v: 1 }]],
    ['a trailing backslash in the name', [{ n: 'temp\\', v: 1 }]],
    ['a hyphen in the name', [{ bn: 'room-', n: 'temp', v: 1 }]],
    ['no name at all', [{ v: 1 }]],
    ['a resolved name over 64 characters', [{ bn: 'a'.repeat(40), n: 'b'.repeat(30), v: 1 }]],
    [
      'a bad name in a later record',
      [
        { bn: 'room_', n: 'temp', v: 1 },
        { n: 'Hum', v: 2 },
      ],
    ],
    ['both v and vb', [{ n: 'temperature', v: 1, vb: true }]],
    ['neither v nor vb', [{ bn: 'room_', bt: nowSeconds, n: 'temperature' }]],
    ['a non-finite value', '[{"n":"temperature","v":1e999}]'],
    ['a value that overflows with bv', [{ bv: 1e308, n: 'temperature', v: 1e308 }]],
    ['a time that overflows with bt', [{ bt: 1e308, n: 'temperature', t: 1e308, v: 1 }]],
    ['a time beyond what a Date holds', [{ n: 'temperature', t: -1e13, v: 1 }]],
    ['a null value', [{ n: 'temperature', v: null }]],
    ['a number as a string', [{ n: 'temperature', v: '21.5' }]],
    ['an empty array', []],
    ['a record that is not an object', [1]],
    ['a record outside an array', { n: 'temperature', v: 1 }],
  ])('rejects a pack with %s whole and writes nothing', async (_, pack) => {
    const { written, accept } = setup();
    expect(await accept(pack)).toMatchObject({ accepted: false, reason: 'bad_shape' });
    expect(written).toEqual([]);
  });

  it('rejects §5.1.5 whole for its string value, storing none of its numbers', async () => {
    const { written, accept } = setup();
    const result = await accept([
      { bn: 'machine_room_', n: 'temperature', u: 'Cel', v: 23.1 },
      { n: 'label', vs: 'Machine Room' },
      { n: 'door_open', vb: false },
    ]);
    expect(result).toMatchObject({ accepted: false, reason: 'bad_shape' });
    expect(result).toHaveProperty('detail', expect.stringContaining('"vs"'));
    expect(written).toEqual([]);
  });

  it('names the metric rule when a resolved name is not a metric', async () => {
    const { accept } = setup();
    const result = await accept([{ bn: 'urn:dev:ow:10e2073a01080063:', n: 'temp', v: 1 }]);
    expect(result).toHaveProperty('detail', expect.stringContaining('metric names must match'));
  });
});
