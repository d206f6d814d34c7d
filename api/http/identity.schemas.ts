import { z } from 'zod';
import { oneTimeTokenPattern } from '../../directory/crypto/one-time-token.js';

/**
 * Request fields shared by the identity routes. Personal values are checked for shape and size
 * only; control characters are refused so a name cannot add lines to an e-mail.
 */
const noControl = /^[^\p{Cc}]*$/u;
const noControlButNewlines = /^(?:[^\p{Cc}]|\r?\n)*$/u;

export const emailAddress = z.email().max(254);
export const personName = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .regex(noControl, 'must not contain control characters');
export const organisationName = personName;
export const phoneNumber = z
  .string()
  .trim()
  .regex(/^\+?[0-9][0-9 ()-]{3,30}$/, 'must be a phone number such as +46 70 123 45 67');
export const postalAddress = z
  .string()
  .trim()
  .min(1)
  .max(500)
  .regex(noControlButNewlines, 'must not contain control characters');
/** Checked against the policy by the service, so the answer can say why (WEAK_PASSWORD). */
export const newPassword = z.string().max(1024);
export const termsVersion = z.string().min(1).max(64);
export const oneTimeToken = z.string().regex(oneTimeTokenPattern, 'is not a link token');
export const region = z.string().regex(/^[a-z]{2,16}$/);
export const mailSettings = z.strictObject({ omitNamesInEmail: z.boolean().optional() });

/**
 * The answer of every request that sends an e-mail link (sign-up, password reset, e-mail
 * change): 202, and the same body whether or not an e-mail went out, so it tells nothing.
 */
export const emailSent = {
  status: 202,
  response: z.object({ status: z.literal('email_sent') }),
} as const;
