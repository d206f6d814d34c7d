import { describe, expect, it } from 'vitest';
import { commonPasswordCount, passwordProblem } from '../../directory/accounts/password-policy.js';

describe('password policy', () => {
  it('ships the 1,000 most common passwords of 8 or more characters', () => {
    expect(commonPasswordCount).toBe(1000);
  });

  it('refuses short and common passwords, case-insensitively, and nothing else', () => {
    expect(passwordProblem('1234567')).toBe('too_short');
    expect(passwordProblem('åäöåäö1')).toBe('too_short');
    expect(passwordProblem('password')).toBe('too_common');
    expect(passwordProblem('PassWord')).toBe('too_common');
    expect(passwordProblem('12345678')).toBe('too_common');
    expect(passwordProblem('x'.repeat(1025))).toBe('too_long');
    // No composition rules: lower-case words are fine when long and uncommon.
    expect(passwordProblem('greenhouse-demo')).toBeNull();
    expect(passwordProblem('correct horse battery staple')).toBeNull();
  });
});
