import type { FieldPlace } from './data-key.js';

/**
 * Where each sealed value lives. The place is the ciphertext's associated data, so a value
 * opens only in the row and column it was written to.
 */
export const userField = (
  userId: string,
  column: 'email' | 'name' | 'phone' | 'address',
): FieldPlace => ({ table: 'users', column, rowId: userId });

export const organisationField = (orgId: string, column: 'name' | 'address'): FieldPlace => ({
  table: 'organisations',
  column,
  rowId: orgId,
});

export const registrationField = (userId: string, column: 'ip' | 'user_agent'): FieldPlace => ({
  table: 'registrations',
  column,
  rowId: userId,
});

/** The address an e-mail change moves to, bound to its verification row (by token hash). */
export const pendingEmailField = (tokenHashHex: string): FieldPlace => ({
  table: 'email_verifications',
  column: 'new_email',
  rowId: tokenHashHex,
});
