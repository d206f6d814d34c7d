/**
 * Limits that more than one component must agree on, each defined once.
 */

/**
 * How far ahead of the platform's clock a device may stamp a reading (docs/devices.md): the
 * broker's default INGEST_MAX_FUTURE_MS, and the API's default end of a time range, so a range
 * that ends "now" still shows readings from a device whose clock runs a little fast.
 */
export const READING_FUTURE_SLACK_MS = 5 * 60_000;
