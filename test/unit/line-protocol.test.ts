import { describe, expect, it } from 'vitest';
import { toLine, UnsafePointError } from '../../influx/line-protocol.js';
import type { ReadingPoint } from '../../ingest/reading-point.js';

const point: ReadingPoint = {
  tenantKey: '0123456789abcdef0123456789abcdef',
  deviceKey: 'fedcba9876543210fedcba9876543210',
  metric: 'temperature',
  value: 21.5,
  time: 1_795_000_000_000,
};

describe('line protocol', () => {
  it('writes numbers to `value` and booleans to `flag`, tags in lexical order', () => {
    expect(toLine(point)).toBe(
      'readings,device=fedcba9876543210fedcba9876543210,metric=temperature,tenant=0123456789abcdef0123456789abcdef value=21.5 1795000000000',
    );
    expect(toLine({ ...point, value: true })).toMatch(/ flag=true 1795000000000$/);
    expect(toLine({ ...point, value: 3 })).toMatch(/ value=3 /);
  });

  it.each(['a\nb', 'a,b', 'a b', 'a"b', "a'b", 'a=b', 'a\\', 'A', '', 'x'.repeat(65)])(
    'P2: refuses a metric that is not allowlisted: %j',
    (metric) => {
      expect(() => toLine({ ...point, metric })).toThrow(UnsafePointError);
    },
  );

  it.each(['tenantKey', 'deviceKey'] as const)('refuses a %s that is not a pseudonym', (key) => {
    for (const bad of [
      'dev_1',
      'alice@example.com',
      `${point.tenantKey}\nreadings value=1`,
      `${point.tenantKey} `,
    ]) {
      expect(() => toLine({ ...point, [key]: bad })).toThrow(UnsafePointError);
    }
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])(
    'refuses the value %s',
    (value) => {
      expect(() => toLine({ ...point, value })).toThrow(UnsafePointError);
    },
  );

  it('refuses a time that is not a non-negative safe integer', () => {
    for (const time of [-1, 1.5, Number.MAX_SAFE_INTEGER + 2]) {
      expect(() => toLine({ ...point, time })).toThrow(UnsafePointError);
    }
  });
});
