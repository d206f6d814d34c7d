import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { IngestWindow } from './ingest-window.js';

export interface SpoolGauges {
  bytes: number;
  segments: number;
  oldestAgeMs: number;
}

/**
 * The broker's Prometheus metrics. No label names a device or an address: a device id is a
 * directory identifier, and Prometheus would keep it long after the device was deleted. Which
 * device sends bad data is in the broker's log, which is kept for days, not in metrics.
 */
export function createBrokerMetrics(
  spoolStats: () => SpoolGauges,
  window: Pick<IngestWindow, 'inFlight' | 'held'>,
) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'telemoat_broker_' });
  const registers = [registry];

  const metrics = {
    registry,
    connections: new Gauge({
      name: 'telemoat_mqtt_connections',
      help: 'Authenticated device connections open now.',
      registers,
    }),
    connects: new Counter({
      name: 'telemoat_mqtt_connects_total',
      help: 'Connection attempts by outcome (accepted, unknown, disabled, bad-secret, unavailable, busy, throttled, malformed, forbidden-will).',
      labelNames: ['outcome'] as const,
      registers,
    }),
    connectsRefusedFromCache: new Counter({
      name: 'telemoat_mqtt_connects_refused_from_cache_total',
      help: 'Connection attempts refused from the negative cache, without asking the directory.',
      registers,
    }),
    oversizedPackets: new Counter({
      name: 'telemoat_mqtt_oversized_packets_total',
      help: 'Connections closed for announcing a packet larger than MQTT_MAX_PACKET_BYTES.',
      registers,
    }),
    deviceChanges: new Counter({
      name: 'telemoat_device_changes_total',
      help: 'Device changes the directory announced (revoked: rotated, disabled or deleted; enabled).',
      labelNames: ['change'] as const,
      registers,
    }),
    deviceChangesListening: new Gauge({
      name: 'telemoat_device_changes_listening',
      help: '1 while the broker listens for device changes from the directory; 0 while it reconnects.',
      registers,
    }),
    messagesAccepted: new Counter({
      name: 'telemoat_messages_accepted_total',
      help: 'Messages whose readings were made durable and acknowledged.',
      labelNames: ['format'] as const,
      registers,
    }),
    readingsAccepted: new Counter({
      name: 'telemoat_readings_accepted_total',
      help: 'Readings made durable and acknowledged.',
      registers,
    }),
    messagesRejected: new Counter({
      name: 'telemoat_messages_rejected_total',
      help: 'Messages refused by the ingest rules, by reason.',
      labelNames: ['reason'] as const,
      registers,
    }),
    forbidden: new Counter({
      name: 'telemoat_forbidden_total',
      help: 'Publishes, subscriptions and will messages outside the device’s own topics.',
      labelNames: ['kind'] as const,
      registers,
    }),
    notAcknowledged: new Counter({
      name: 'telemoat_messages_not_acknowledged_total',
      help: 'Messages not acknowledged because they could not be made durable (spool full or failing).',
      registers,
    }),
    influxWriteSeconds: new Histogram({
      name: 'telemoat_influx_write_seconds',
      help: 'Duration of InfluxDB batch writes from the spool.',
      labelNames: ['outcome'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    influxWriteErrors: new Counter({
      name: 'telemoat_influx_write_errors_total',
      help: 'Failed InfluxDB batch writes (they are retried, or quarantined if not retryable).',
      labelNames: ['retryable'] as const,
      registers,
    }),
  };

  new Gauge({
    name: 'telemoat_spool_bytes',
    help: 'Bytes in the write-ahead spool not yet confirmed by InfluxDB.',
    registers,
    collect() {
      this.set(spoolStats().bytes);
    },
  });
  new Gauge({
    name: 'telemoat_spool_segments',
    help: 'Spool segments not yet confirmed by InfluxDB.',
    registers,
    collect() {
      this.set(spoolStats().segments);
    },
  });
  new Gauge({
    name: 'telemoat_spool_oldest_age_seconds',
    help: 'Age of the oldest reading still waiting in the spool.',
    registers,
    collect() {
      this.set(spoolStats().oldestAgeMs / 1000);
    },
  });

  new Gauge({
    name: 'telemoat_ingest_in_flight',
    help: 'Publishes being made durable now (bounded by INGEST_MAX_IN_FLIGHT).',
    registers,
    collect() {
      this.set(window.inFlight());
    },
  });
  new Gauge({
    name: 'telemoat_mqtt_connections_held',
    help: 'Connections not read until the ingest window has room: the broker is at capacity.',
    registers,
    collect() {
      this.set(window.held());
    },
  });

  return metrics;
}

export type BrokerMetrics = ReturnType<typeof createBrokerMetrics>;
