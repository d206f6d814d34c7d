/**
 * The load generator: one worker process with a share of the device connections. Forked by
 * bench/run.ts with `--import tsx`; it takes its orders and reports its results over IPC.
 *
 * 1. `{ type: 'connect', ... }`: opens every connection (QoS 1, clean sessions) and answers
 *    `{ type: 'ready', ... }` with when the first CONNECT went out and the last CONNACK came in.
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
  /** Connections being opened at once; 16 when absent. */
  concurrency?: number;
  /** Counts refused and timed-out connections instead of failing the whole order. */
  countFailures?: boolean;
}

export interface ConnectResult {
  type: 'ready';
  connected: number;
  failed: number;
  /** Wall clock in ms, comparable between the load generator processes. */
  firstConnectAt: number;
  /** The last CONNACK or failure. */
  lastConnackAt: number;
  /** CONNECT → CONNACK of each accepted connection, ms. */
  latencies: number[];
  /** CPU this process spent opening them: near 1 per second of wall time, it was the limit. */
  cpuSeconds: number;
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

const wallClock = () => performance.timeOrigin + performance.now();

async function connectAll(order: ConnectOrder): Promise<ConnectResult> {
  const queue = [...order.devices];
  const latencies: number[] = [];
  let failed = 0;
  let firstConnectAt = 0;
  let lastConnackAt = 0;
  const cpuBefore = process.cpuUsage();
  const connectOne = (device: BenchDevice) =>
    new Promise<Connection | null>((resolve, reject) => {
      const start = performance.now();
      firstConnectAt ||= wallClock();
      const client = mqtt.connect(order.url, {
        clientId: device.id,
        ...(device.secret ? { username: device.id, password: device.secret } : {}),
        protocolVersion: 4,
        clean: true,
        reconnectPeriod: 0,
        connectTimeout: 30_000,
        keepalive: 60,
      });
      let settled = false;
      client.once('connect', () => {
        settled = true;
        lastConnackAt = wallClock();
        latencies.push(performance.now() - start);
        resolve({ client, topic: `devices/${device.id}/telemetry`, lastTs: 0 });
      });
      // A refused CONNACK errors; a CONNACK timeout only closes.
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        if (!order.countFailures) return reject(err);
        failed++;
        lastConnackAt = wallClock();
        client.end(true);
        resolve(null);
      };
      client.once('error', fail);
      client.once('close', () => fail(new Error(`${device.id}: closed before CONNACK`)));
    });
  // 16 unless told: what benchmark 1 was measured with, chosen when secrets took scrypt.
  const opened: Connection[] = [];
  await Promise.all(
    Array.from({ length: order.concurrency ?? 16 }, async () => {
      for (let device = queue.shift(); device; device = queue.shift()) {
        const connection = await connectOne(device);
        if (connection) opened.push(connection);
      }
    }),
  );
  connections = opened;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    type: 'ready',
    connected: opened.length,
    failed,
    firstConnectAt,
    lastConnackAt,
    latencies,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
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
      process.send?.(await connectAll(message));
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
