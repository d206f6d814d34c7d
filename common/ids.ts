import { randomBytes } from 'node:crypto';

/**
 * Identifier formats shared by both sides of the privacy boundary. Pseudonyms are random
 * (never derived from anything personal, P2); these patterns are the allowlist that every
 * value must pass before it reaches a topic, InfluxQL or line protocol.
 */
export const pseudonymPattern = /^[0-9a-f]{32}$/;
export const deviceIdPattern = /^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$/;
/**
 * Metric names become InfluxDB tags and object keys. `constructor` is the one name of this shape
 * that every JavaScript object already has (Object.prototype), so it is not a metric name.
 */
export const metricPattern = /^(?!constructor$)[a-z][a-z0-9_]{0,63}$/;

export function newPseudonym(): string {
  return randomBytes(16).toString('hex');
}

export function newDeviceId(): string {
  return `dev_${randomBytes(10).toString('hex')}`;
}

/** 32 random bytes, URL-safe: shown once at provisioning, stored only as a hash. */
export function newDeviceSecret(): string {
  return randomBytes(32).toString('base64url');
}
