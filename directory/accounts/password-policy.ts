import { dictionary } from '@zxcvbn-ts/language-common';

/**
 * What a password must be: at least 8 characters and not a known breached password. No
 * composition rules (they make passwords harder to remember, not harder to guess; NIST SP
 * 800-63B §5.1.1.2). The list is the ~49,000 most common passwords of leaked password dumps
 * that @zxcvbn-ts/language-common ships; those shorter than 8 characters fail on length anyway.
 */
export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;

export type PasswordProblem = 'too_short' | 'too_long' | 'too_common';

const commonPasswords: ReadonlySet<string> = new Set(
  dictionary['passwords-common'].map((password) => password.toLowerCase()),
);

/** How many of the listed passwords a long enough password could be. */
export const commonPasswordCount = [...commonPasswords].filter(
  (password) => [...password].length >= MIN_PASSWORD_LENGTH,
).length;

/** Null when the password is acceptable; otherwise why not. Compared case-insensitively. */
export function passwordProblem(password: string): PasswordProblem | null {
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH) return 'too_short';
  if (length > MAX_PASSWORD_LENGTH) return 'too_long';
  if (commonPasswords.has(password.toLowerCase())) return 'too_common';
  return null;
}
