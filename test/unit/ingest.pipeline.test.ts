import { describe, expect, it } from 'vitest';
import {
  recordingIngest,
  testIdentity,
  testIngestLimits,
  testNow,
} from '../support/recording-ingest.js';
import { metricPattern } from '../../common/ids.js';
import { createIngest } from '../../ingest/ingest.pipeline.js';

const now = testNow;
const limits = testIngestLimits({ maxPayloadBytes: 1024, maxReadingsPerMessage: 4 });
const identity = testIdentity;
const setup = () => recordingIngest(limits, now, 'telemoat');

describe('ingest pipeline', () => {
  it('turns Telemoat JSON into points tagged only with pseudonyms', async () => {
    const { written, accept } = setup();
    const result = await accept({
      ts: '2026-11-21T11:59:00Z',
      readings: { temperature: 21.5, door_open: false },
    });
    expect(result).toEqual({ accepted: true, readings: 2 });
    expect(written).toEqual([
      [
        {
          tenantKey: identity.tenantKey,
          deviceKey: identity.deviceKey,
          metric: 'temperature',
          value: 21.5,
          time: now - 60_000,
        },
        {
          tenantKey: identity.tenantKey,
          deviceKey: identity.deviceKey,
          metric: 'door_open',
          value: false,
          time: now - 60_000,
        },
      ],
    ]);
  });

  it('accepts an array of messages and stamps missing timestamps with the receive time', async () => {
    const { written, accept } = setup();
    await accept([{ readings: { a: 1 } }, { ts: now - 1000, readings: { b: 2 } }]);
    expect(written[0]!.map((p) => [p.metric, p.time])).toEqual([
      ['a', now],
      ['b', now - 1000],
    ]);
  });

  it.each([
    ['payload_too_large', 'x'.repeat(2000)],
    ['bad_json', '{"readings": {'],
    ['bad_shape', { readings: { temperature: 'warm' } }],
    ['bad_shape', { readings: { Temperature: 1 } }],
    ['bad_shape', { readings: { 'temp,device=x': 1 } }],
    ['bad_shape', { readings: { 'temp\nevil': 1 } }],
    ['bad_shape', { readings: {} }],
    ['bad_shape', { readings: { t: 1 }, extra: true }],
    ['bad_shape', { readings: { t: null } }],
    ['bad_shape', { ts: 'yesterday', readings: { t: 1 } }],
    ['bad_json', '{"readings": {"t": NaN}}'],
    ['bad_shape', []],
    // Keys JavaScript objects treat specially: refused whole, never dropped with the rest kept.
    ['bad_shape', '{"readings":{"__proto__":"not a number","other":3}}'],
    ['bad_shape', '{"readings":{"__proto__":1,"other":3}}'],
    ['bad_shape', '{"readings":{"\\u005f_proto__":1,"other":3}}'],
    ['bad_shape', '{"__proto__":{"ts":1},"readings":{"other":3}}'],
    ['bad_shape', '[{"readings":{"other":3}},{"readings":{"__proto__":{}}}]'],
    ['bad_shape', { readings: { constructor: 1, other: 3 } }],
    ['too_many_readings', { readings: { a: 1, b: 2, c: 3, d: 4, e: 5 } }],
    ['timestamp_in_future', { ts: now + 6 * 60_000, readings: { t: 1 } }],
    ['timestamp_too_old', { ts: now - 31 * 86_400_000, readings: { t: 1 } }],
  ])('rejects %s whole and writes nothing: %j', async (reason, payload) => {
    const { written, accept } = setup();
    const result = await accept(payload);
    expect(result).toMatchObject({ accepted: false, reason });
    expect(written).toEqual([]);
  });

  it('rejects a batch whole when one message in it is bad', async () => {
    const { written, accept } = setup();
    const result = await accept([{ readings: { a: 1 } }, { readings: { b: 'two' } }]);
    expect(result).toMatchObject({ accepted: false, reason: 'bad_shape' });
    expect(written).toEqual([]);
  });

  it.each([
    ['senml', { readings: { temperature: 21.5 } }],
    ['telemoat', [{ n: 'temperature', v: 21.5 }]],
  ] as const)(
    'validates against the schema of the format it is given: %s',
    async (format, payload) => {
      const { written, accept } = setup();
      const result = await accept(payload, format);
      expect(result).toMatchObject({ accepted: false, reason: 'bad_shape' });
      expect(written).toEqual([]);
    },
  );

  it.each([
    '[{"n":"temperature","v":1,"__proto__":{"v":2}}]',
    '[{"n":"temperature","v":1},{"n":"__proto__","v":2}]',
    '[{"n":"constructor","v":1}]',
    '[{"n":"temperature","v":1},{"\\u005f_proto__":{"n":"x"},"v":2}]',
  ])('refuses SenML with a key or name objects treat specially, whole: %s', async (payload) => {
    const { written, accept } = setup();
    expect(await accept(payload, 'senml')).toMatchObject({ accepted: false, reason: 'bad_shape' });
    expect(written).toEqual([]);
  });

  it('no name an object already has passes as a metric name', () => {
    const inherited = Object.getOwnPropertyNames(Object.prototype);
    expect(inherited.filter((name) => metricPattern.test(name))).toEqual([]);
  });

  it('propagates a sink failure so the broker withholds the acknowledgement', async () => {
    const ingest = createIngest({
      sink: { write: () => Promise.reject(new Error('InfluxDB unreachable')) },
      limits,
      now: () => now,
    });
    await expect(
      ingest.accept(identity, 'telemoat', Buffer.from('{"readings":{"t":1}}')),
    ).rejects.toThrow(/unreachable/);
  });
});
