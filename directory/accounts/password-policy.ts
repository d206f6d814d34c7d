import { readFileSync } from 'node:fs';

/**
 * What a password must be: at least 8 characters and not one of the most common passwords.
 * No composition rules (they make passwords harder to remember, not harder to guess). The list
 * holds the 1,000 most common passwords of 8 or more characters; shorter ones fail on length.
 */
export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;

export type PasswordProblem = 'too_short' | 'too_long' | 'too_common';

const commonPasswords: ReadonlySet<string> = new Set(
  readFileSync(new URL('./common-passwords.txt', import.meta.url), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#')),
);

export const commonPasswordCount = commonPasswords.size;

/** Null when the password is acceptable; otherwise why not. Compared case-insensitively. */
export function passwordProblem(password: string): PasswordProblem | null {
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH) return 'too_short';
  if (length > MAX_PASSWORD_LENGTH) return 'too_long';
  if (commonPasswords.has(password.toLowerCase())) return 'too_common';
  return null;
}
