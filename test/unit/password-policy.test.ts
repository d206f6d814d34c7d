import { describe, expect, it } from 'vitest';
import { commonPasswordCount, passwordProblem } from '../../directory/accounts/password-policy.js';

describe('password policy', () => {
  it('refuses tens of thousands of breached passwords long enough to pass the length rule', () => {
    expect(commonPasswordCount).toBeGreaterThan(15_000);
    for (const weak of ['password123', 'qwerty123', 'admin123', '1q2w3e4r5t', 'Iloveyou1']) {
      expect({ weak, problem: passwordProblem(weak) }).toEqual({ weak, problem: 'too_common' });
    }
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
