import { z } from 'zod';

/**
 * The roles a member holds in an organisation, weakest first: each role may do everything the
 * ones before it may. Routes, services, the database's check constraint and the dashboard all
 * use these four words.
 */
export const roles = ['viewer', 'member', 'admin', 'owner'] as const;

export type Role = (typeof roles)[number];

export const roleSchema = z.enum(roles);

/** Whether `role` is `atLeast` or stronger. */
export function hasRole(role: Role, atLeast: Role): boolean {
  return roles.indexOf(role) >= roles.indexOf(atLeast);
}
