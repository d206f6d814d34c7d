import { describe, expect, it } from 'vitest';
import { brokerConfigSchema } from '../../broker/broker.config.js';

const required = {
  BROKER_DATABASE_URL: 'postgres://telemoat_broker:pw@127.0.0.1:5432/telemoat',
  INFLUX_URL: 'http://127.0.0.1:8086',
  INFLUX_INGEST_PASSWORD: 'a-long-enough-password',
};

describe('broker configuration', () => {
  it('serves metrics on loopback unless told otherwise, whatever MQTT listens on', () => {
    const config = brokerConfigSchema.parse({ ...required, MQTT_HOST: '0.0.0.0' });
    expect(config.BROKER_METRICS_HOST).toBe('127.0.0.1');
    expect(
      brokerConfigSchema.parse({ ...required, BROKER_METRICS_HOST: '0.0.0.0' }).BROKER_METRICS_HOST,
    ).toBe('0.0.0.0');
  });

  it('bounds lookups and packets by default, and wants the packet limit above the payload limit', () => {
    expect(brokerConfigSchema.parse(required)).toMatchObject({
      MQTT_MAX_PACKET_BYTES: 131_072,
      MQTT_CONNECT_FAILURES_PER_MINUTE: 30,
      AUTH_NEGATIVE_CACHE_MS: 10_000,
      AUTH_MAX_LOOKUPS_IN_FLIGHT: 32,
      BROKER_DATABASE_TIMEOUT_MS: 2_000,
    });
    const tooSmall = brokerConfigSchema.safeParse({
      ...required,
      INGEST_MAX_PAYLOAD_BYTES: '1048576',
    });
    expect(tooSmall.error?.issues.map((i) => i.path.join('.'))).toEqual(['MQTT_MAX_PACKET_BYTES']);
    expect(
      brokerConfigSchema.safeParse({
        ...required,
        INGEST_MAX_PAYLOAD_BYTES: '1048576',
        MQTT_MAX_PACKET_BYTES: String(1_048_576 + 1024),
      }).success,
    ).toBe(true);
  });
});
