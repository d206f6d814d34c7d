import { deviceIdPattern } from '../common/ids.js';

/** The only topic a device publishes readings to (docs/devices.md). */
export function telemetryTopic(deviceId: string): string {
  return `devices/${deviceId}/telemetry`;
}

/**
 * A device may subscribe only below its own `devices/{id}/`. Wildcards are allowed after that
 * prefix only: `+` or `#` in the first two levels would reach other devices (MQTT-4.7.1).
 */
export function mayDeviceSubscribe(deviceId: string, filter: string): boolean {
  if (!deviceIdPattern.test(deviceId)) return false;
  const prefix = `devices/${deviceId}/`;
  return filter.startsWith(prefix) && filter.length > prefix.length;
}
