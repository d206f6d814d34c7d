import { deviceIdPattern } from '../common/ids.js';
import type { PayloadFormat } from '../ingest/ingest.pipeline.js';

/** The topics a device publishes readings to, and the payload format each carries. */
const publishTopics = new Map<string, PayloadFormat>([
  ['telemetry', 'telemoat'],
  ['senml', 'senml'],
]);

export function telemetryTopic(deviceId: string): string {
  return `devices/${deviceId}/telemetry`;
}

/** The payload format for a publish to `topic` by `deviceId`, or null when it is not theirs. */
export function publishFormat(deviceId: string, topic: string): PayloadFormat | null {
  const prefix = `devices/${deviceId}/`;
  if (!topic.startsWith(prefix)) return null;
  return publishTopics.get(topic.slice(prefix.length)) ?? null;
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
