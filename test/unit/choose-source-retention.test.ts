import { describe, expect, it } from 'vitest';
import { chooseSource, type AggregateWindow } from '../../influx/readings.reader.js';
import { HOUR_MS, DAY_MS } from '../../common/time.js';

const now = Date.parse('2025-06-01T12:00:00Z');
const retention = { rawDays: 30, now };
const ago = (ms: number) => new Date(now - ms);

describe('chooseSource with the raw retention', () => {
  it.each<[string, number, number, AggregateWindow, string]>([
    ['an hour ending now', HOUR_MS, 0, '1m', 'raw'],
    ['a day ending 29 days ago', DAY_MS, 29 * DAY_MS, '1h', 'raw'],
    ['an hour starting exactly at the horizon', 30 * DAY_MS, 30 * DAY_MS - HOUR_MS, '1m', 'raw'],
    [
      'an hour starting 1 ms before the horizon',
      30 * DAY_MS + 1,
      30 * DAY_MS - HOUR_MS,
      '1m',
      'rollup_1m',
    ],
    ['an hour 40 days ago', 40 * DAY_MS, 40 * DAY_MS - HOUR_MS, '1h', 'rollup_1m'],
    ['two days 40 days ago, in 1-minute windows', 40 * DAY_MS, 38 * DAY_MS, '1m', 'rollup_1m'],
    ['a day 100 days ago', 100 * DAY_MS, 99 * DAY_MS, '1d', 'rollup_1m'],
    ['40 days ending now', 40 * DAY_MS, 0, '1d', 'rollup_1h'],
  ])('%s in %s windows reads %s', (_label, fromAgo, toAgo, window, source) => {
    expect(chooseSource(ago(fromAgo), ago(toAgo), window, retention)).toBe(source);
  });

  it('without the retention, keeps choosing by length alone', () => {
    expect(chooseSource(ago(40 * DAY_MS), ago(40 * DAY_MS - HOUR_MS), '1h')).toBe('raw');
  });
});
