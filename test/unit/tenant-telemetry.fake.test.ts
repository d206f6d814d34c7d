import { FakeTelemetry } from '../../influx/tenant-telemetry.fake.js';
import { tenantTelemetryContract } from '../support/tenant-telemetry.contract.js';

const telemetry = new FakeTelemetry();

tenantTelemetryContract('FakeTelemetry', () => ({
  telemetry,
  write(readings, presence) {
    telemetry.write(readings);
    telemetry.writePresence(presence);
    return Promise.resolve();
  },
}));
