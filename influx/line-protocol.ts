import { metricPattern, pseudonymPattern } from '../common/ids.js';
import type { ReadingPoint } from '../ingest/reading-point.js';

/**
 * The one measurement readings live in (P2): tags are only the tenant and device pseudonyms
 * and the metric; numbers go to the float field `value` and booleans to the field `flag`, so
 * the two kinds never collide in a field-type conflict that would reject a whole batch.
 */
export const READINGS_MEASUREMENT = 'readings';

export class UnsafePointError extends Error {
  constructor(field: string) {
    super(`refusing to write point: ${field} is not an allowlisted value`);
    this.name = 'UnsafePointError';
  }
}

/**
 * Builds one line of line protocol. Every tag value is checked against its allowlist rather
 * than escaped: escaping rules differ between InfluxDB versions, an allowlist does not.
 */
export function toLine(point: ReadingPoint): string {
  checkDeviceTags(point);
  if (!metricPattern.test(point.metric)) throw new UnsafePointError('metric');
  const field = fieldOf(point.value);
  // Tag keys in lexical order: InfluxDB sorts them anyway, and pre-sorted lines parse faster.
  return `${READINGS_MEASUREMENT},device=${point.deviceKey},metric=${point.metric},tenant=${point.tenantKey} ${field} ${point.time}`;
}

/**
 * Device presence (connected or not) lives beside the readings with the same pseudonymous
 * tags; the connection's IP address is deliberately not part of it (P2).
 */
export const PRESENCE_MEASUREMENT = 'presence';

export interface PresencePoint {
  tenantKey: string;
  deviceKey: string;
  connected: boolean;
  time: number;
}

export function toPresenceLine(point: PresencePoint): string {
  checkDeviceTags(point);
  return `${PRESENCE_MEASUREMENT},device=${point.deviceKey},tenant=${point.tenantKey} connected=${point.connected} ${point.time}`;
}

function checkDeviceTags(point: { tenantKey: string; deviceKey: string; time: number }): void {
  if (!pseudonymPattern.test(point.tenantKey)) throw new UnsafePointError('tenantKey');
  if (!pseudonymPattern.test(point.deviceKey)) throw new UnsafePointError('deviceKey');
  if (!Number.isSafeInteger(point.time) || point.time < 0) throw new UnsafePointError('time');
}

function fieldOf(value: number | boolean): string {
  if (typeof value === 'boolean') return `flag=${value}`;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new UnsafePointError('value');
  return `value=${value}`;
}
