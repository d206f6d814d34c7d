import { describe, expect, it } from 'vitest';
import { mayDeviceSubscribe, publishFormat } from '../../broker/topics.js';

describe('device topics', () => {
  it('maps a device’s own publish topics to their payload formats', () => {
    expect(publishFormat('dev_a', 'devices/dev_a/telemetry')).toBe('telemoat');
    expect(publishFormat('dev_a', 'devices/dev_a/senml')).toBe('senml');
  });

  it.each([
    'devices/dev_b/telemetry',
    'devices/dev_a/telemetry/extra',
    'devices/dev_a/constructor',
    'devices/dev_a/',
    'devices/dev_a',
    '$SYS/broker',
    'devices/+/telemetry',
  ])('refuses a publish to %s', (topic) => {
    expect(publishFormat('dev_a', topic)).toBeNull();
  });

  it('allows subscriptions only below the device’s own prefix', () => {
    expect(mayDeviceSubscribe('dev_a', 'devices/dev_a/#')).toBe(true);
    expect(mayDeviceSubscribe('dev_a', 'devices/dev_a/commands')).toBe(true);
    for (const filter of [
      '#',
      '+/+/#',
      'devices/#',
      'devices/+/telemetry',
      'devices/dev_b/#',
      'devices/dev_a/',
      'devices/dev_ab/#',
    ]) {
      expect(mayDeviceSubscribe('dev_a', filter), filter).toBe(false);
    }
  });
});
