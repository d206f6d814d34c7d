import type { ThrottlePolicy } from '../../directory/sessions/sign-in-throttle.service.js';

/** The sign-in throttle as the API's defaults configure it (api/api.config.ts), for fakes. */
export const defaultThrottlePolicy: ThrottlePolicy = {
  windowMs: 900_000,
  freeAttemptsPerAccount: 5,
  freeAttemptsPerNetwork: 20,
  accountCeiling: 50,
  baseDelayMs: 1000,
  maxDelayMs: 30_000,
};
