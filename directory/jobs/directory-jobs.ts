import type pg from 'pg';
import { purgeUnacceptedInvitations, type InvitationPurge } from './purge-invitations.job.js';
import { purgeMailQuota } from './purge-mail-quota.job.js';
import { purgeExpiredPasswordResets } from './purge-password-resets.job.js';
import { purgeExpiredRegistrations } from './purge-registrations.job.js';
import {
  purgeSecurityRecords,
  type PurgeCounts,
  type SecurityRetention,
} from './purge-security-records.job.js';

export type DirectoryJobsResult = InvitationPurge & {
  registrations: number;
  mailQuota: number;
  passwordResets: number;
  security: PurgeCounts;
};

/** Every directory retention job, once, in order. `pool` connects as `telemoat_jobs`. */
export async function runDirectoryJobs(
  pool: pg.Pool,
  retention: SecurityRetention = {},
): Promise<DirectoryJobsResult> {
  const invitations = await purgeUnacceptedInvitations(pool);
  const registrations = await purgeExpiredRegistrations(pool);
  const mailQuota = await purgeMailQuota(pool);
  const passwordResets = await purgeExpiredPasswordResets(pool);
  // P10, P11: security events, sign-in history, ended sessions (purge-security-records.job.ts).
  const security = await purgeSecurityRecords(pool, retention);
  return { ...invitations, ...registrations, ...mailQuota, ...passwordResets, security };
}
