import type { DeviceIdentity } from '../ingest/ingest.pipeline.js';
import type { AuthenticateDevice } from './broker.js';

/** What the broker needs to know about a device's credentials; the directory provides it. */
export interface StoredCredentials {
  secretHash: string;
  deviceKey: string;
  tenantKey: string;
  active: boolean;
}

export interface CredentialLookup {
  find(deviceId: string): Promise<StoredCredentials | null>;
}

export interface DeviceAuthenticatorDeps {
  credentials: CredentialLookup;
  verifySecret: (secret: string, hash: string) => Promise<boolean>;
}

/** Checks a device id and secret against the stored hash; disabled devices are refused. */
export function createDeviceAuthenticator(deps: DeviceAuthenticatorDeps): AuthenticateDevice {
  return async (deviceId, secret): Promise<DeviceIdentity | null> => {
    const stored = await deps.credentials.find(deviceId);
    if (!stored || !stored.active) return null;
    if (!(await deps.verifySecret(secret, stored.secretHash))) return null;
    return { deviceId, deviceKey: stored.deviceKey, tenantKey: stored.tenantKey };
  };
}
