import mqtt, { type MqttClient } from 'mqtt';

export interface SimulatedDevice {
  id: string;
  secret: string;
  name: string;
}

export interface FleetOptions {
  mqttUrl: string;
  devices: readonly SimulatedDevice[];
  intervalMs: number;
  onError?: (deviceId: string, err: Error) => void;
}

/**
 * Devices that behave like real greenhouse sensors: each connects with its own credentials
 * and publishes Telemoat JSON at QoS 1. Values drift slowly so the charts look alive.
 */
export function startSimulatedFleet(options: FleetOptions) {
  const clients: MqttClient[] = [];
  const timers: NodeJS.Timeout[] = [];

  options.devices.forEach((device, index) => {
    const client = mqtt.connect(options.mqttUrl, {
      clientId: device.id,
      username: device.id,
      password: device.secret,
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 2000,
    });
    client.on('error', (err) => options.onError?.(device.id, err));
    clients.push(client);
    let step = index * 7;
    const publish = () => {
      step += 1;
      const payload = JSON.stringify({ ts: Date.now(), readings: sample(index, step) });
      client.publish(`devices/${device.id}/telemetry`, payload, { qos: 1 });
    };
    timers.push(setInterval(publish, options.intervalMs));
  });

  return {
    async stop(): Promise<void> {
      timers.forEach(clearInterval);
      await Promise.all(clients.map((c) => c.endAsync()));
    },
  };
}

function sample(index: number, step: number): Record<string, number | boolean> {
  const phase = step / 30 + index;
  return {
    temperature: round(21 + 3 * Math.sin(phase) + index * 0.4),
    humidity: round(55 + 10 * Math.cos(phase / 2)),
    co2: Math.round(420 + 80 * Math.sin(phase / 3) + index * 5),
    door_open: step % 40 < 3,
  };
}

const round = (value: number) => Math.round(value * 100) / 100;
