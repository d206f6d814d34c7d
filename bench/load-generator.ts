/**
 * The load generator: one worker process with a share of the device connections. Forked by
 * bench/run.ts with `--import tsx`; it takes its orders and reports its results over IPC.
 *
 * 1. `{ type: 'connect', ... }`: opens every connection (QoS 1, clean sessions) and answers
 *    `{ type: 'ready' }`.
 * 2. `{ type: 'run', steps }`: publishes at each step's rate (messages per second for this
 *    worker) for its duration, round-robin over the devices, each message 4 readings with a
 *    per-device strictly increasing `ts`, then waits for the outstanding PUBACKs and answers
 *    `{ type: 'result', ... }` with every PUBACK latency in milliseconds.
 */
import mqtt, { type MqttClient } from 'mqtt';

export interface BenchDevice {
  id: string;
  /** Absent for the brokers that run without authentication. */
  secret?: string;
}

export interface ConnectOrder {
  type: 'connect';
  url: string;
  devices: BenchDevice[];
}

export interface RunOrder {
  type: 'run';
  steps: { rate: number; seconds: number }[];
  /** How long to wait for PUBACKs still outstanding after the last publish. */
  drainSeconds: number;
}

export interface WorkerResult {
  type: 'result';
  sent: number;
  acked: number;
  failed: number;
  startedAt: number;
  lastAckAt: number;
  latencies: number[];
  /** PUBACKs received while each step was running (the last entry: after the last step). */
  ackedPerStep: number[];
  /** PUBACK latencies of the messages published during each step. */
  latenciesPerStep: number[][];
}

interface Connection {
  client: MqttClient;
  topic: string;
  lastTs: number;
}

let connections: Connection[] = [];

async function connectAll(order: ConnectOrder): Promise<void> {
  const queue = [...order.devices];
  const connectOne = (device: BenchDevice) =>
    new Promise<Connection>((resolve, reject) => {
      const client = mqtt.connect(order.url, {
        clientId: device.id,
        ...(device.secret ? { username: device.id, password: device.secret } : {}),
        protocolVersion: 4,
        clean: true,
        reconnectPeriod: 0,
        connectTimeout: 30_000,
        keepalive: 60,
      });
      client.once('connect', () =>
        resolve({ client, topic: `devices/${device.id}/telemetry`, lastTs: 0 }),
      );
      client.once('error', reject);
    });
  // A few at a time: the platform checks each secret with scrypt.
  const opened: Connection[] = [];
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let device = queue.shift(); device; device = queue.shift()) {
        opened.push(await connectOne(device));
      }
    }),
  );
  connections = opened;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function run(order: RunOrder): Promise<WorkerResult> {
  const latencies: number[] = [];
  let sent = 0;
  let acked = 0;
  let failed = 0;
  let lastAckAt = 0;
  let next = 0;
  let step = 0;
  const ackedPerStep = new Array<number>(order.steps.length + 1).fill(0);
  const latenciesPerStep = order.steps.map((): number[] => []);
  const startedAt = Date.now();

  const publishOne = () => {
    const connection = connections[next++ % connections.length]!;
    const now = Date.now();
    const ts = Math.max(now, connection.lastTs + 1);
    connection.lastTs = ts;
    const payload = JSON.stringify({
      ts,
      readings: {
        temperature: 20 + Math.random() * 5,
        humidity: 40 + Math.random() * 20,
        pressure: 1000 + Math.random() * 30,
        battery: 3.3 + Math.random() * 0.9,
      },
    });
    const start = performance.now();
    const publishedInStep = latenciesPerStep[step]!;
    sent++;
    connection.client.publish(connection.topic, payload, { qos: 1 }, (err) => {
      if (err) {
        failed++;
        return;
      }
      acked++;
      ackedPerStep[step]!++;
      lastAckAt = Date.now();
      const latency = performance.now() - start;
      latencies.push(latency);
      publishedInStep.push(latency);
    });
  };

  for (const { rate, seconds } of order.steps) {
    const stepStart = performance.now();
    const stepEnd = stepStart + seconds * 1000;
    let stepSent = 0;
    while (performance.now() < stepEnd) {
      const due = Math.floor(((performance.now() - stepStart) / 1000) * rate);
      for (; stepSent < due; stepSent++) publishOne();
      await sleep(5);
    }
    step++;
  }
  const drainEnd = Date.now() + order.drainSeconds * 1000;
  while (acked + failed < sent && Date.now() < drainEnd) await sleep(20);
  return {
    type: 'result',
    sent,
    acked,
    failed,
    startedAt,
    lastAckAt,
    latencies,
    ackedPerStep,
    latenciesPerStep,
  };
}

process.on('message', (message: ConnectOrder | RunOrder | { type: 'close' }) => {
  const answer = async () => {
    if (message.type === 'connect') {
      await connectAll(message);
      process.send?.({ type: 'ready' });
    } else if (message.type === 'run') {
      process.send?.(await run(message));
    } else {
      await Promise.all(connections.map((c) => c.client.endAsync(true)));
      process.exit(0);
    }
  };
  answer().catch((err: unknown) => {
    process.send?.({ type: 'error', message: String(err) });
  });
});
process.on('disconnect', () => process.exit(0));
