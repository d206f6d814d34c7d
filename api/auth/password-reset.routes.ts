import { z } from 'zod';
import type { PasswordService } from '../../directory/accounts/password.service.js';
import { emailAddress, emailSent, newPassword, oneTimeToken } from '../http/identity.schemas.js';
import { defineRoute, type Route } from '../http/route.js';

export interface PasswordResetRoutesDeps {
  passwordService: Pick<PasswordService, 'requestReset' | 'completeReset'>;
}

const resetRequestBody = z.strictObject({ email: emailAddress });
const resetBody = z.strictObject({ token: oneTimeToken, password: newPassword });

/** Forgotten passwords: a single-use link by e-mail, then a new password (P9, P10). */
export function passwordResetRoutes(deps: PasswordResetRoutesDeps): Route[] {
  return [
    defineRoute(
      {
        method: 'post',
        path: '/auth/password-reset',
        summary:
          'Ask for a password reset link by e-mail. Always 202, whether or not the address has an account; a few e-mails per address per hour',
        tag: 'auth',
        access: { kind: 'public' },
        body: resetRequestBody,
        ...emailSent,
      },
      async ({ body }) => {
        await deps.passwordService.requestReset(body.email);
        return { status: 'email_sent' as const };
      },
    ),
    defineRoute(
      {
        method: 'post',
        path: '/auth/password-reset/complete',
        summary:
          "Use a reset link's token to set a new password; single-use, expiring; every session of the account ends",
        tag: 'auth',
        access: { kind: 'public' },
        body: resetBody,
        status: 204,
        errors: ['TOKEN_INVALID', 'WEAK_PASSWORD'],
      },
      async ({ body }) => {
        await deps.passwordService.completeReset(body.token, body.password);
        return undefined;
      },
    ),
  ];
}
