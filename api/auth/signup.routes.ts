import { z } from 'zod';
import type { SignupInput, VerifiedPurpose } from '../../directory/accounts/signup.service.js';
import { clientIp } from '../http/client-info.js';
import {
  emailAddress,
  mailSettings,
  newPassword,
  oneTimeToken,
  personName,
  termsVersion,
} from '../http/identity.schemas.js';
import { defineRoute, type Route } from '../http/route.js';

export interface SignupRoutesDeps {
  signupService: {
    signup(input: SignupInput): Promise<void>;
    verifyEmail(token: string): Promise<{ purpose: VerifiedPurpose }>;
  };
  /** The privacy terms version sign-up and invitations must accept. */
  privacyTermsVersion: string;
}

const signupBody = z.strictObject({
  email: emailAddress,
  name: personName,
  password: newPassword,
  termsVersion,
  settings: mailSettings.optional(),
});

const verifyBody = z.strictObject({ token: oneTimeToken });

/** Next to sign-in under /auth: sign-up with e-mail verification (P5). */
export function signupRoutes(deps: SignupRoutesDeps): Route[] {
  return [
    defineRoute(
      {
        method: 'get',
        path: '/auth/privacy-terms',
        summary: 'The privacy terms version that sign-up and invitations must accept',
        tag: 'signup',
        access: { kind: 'public' },
        response: z.object({ version: z.string() }),
      },
      () => Promise.resolve({ version: deps.privacyTermsVersion }),
    ),
    defineRoute(
      {
        method: 'post',
        path: '/auth/signup',
        summary:
          'Sign up; the account stays inactive until the e-mailed link is used. Always 202, whether or not the address has an account',
        tag: 'signup',
        access: { kind: 'public' },
        body: signupBody,
        status: 202,
        response: z.object({ status: z.literal('email_sent') }),
        errors: ['WEAK_PASSWORD', 'TERMS_NOT_ACCEPTED'],
      },
      async ({ req, body }) => {
        await deps.signupService.signup({
          email: body.email,
          name: body.name,
          password: body.password,
          termsVersion: body.termsVersion,
          omitNamesInEmail: body.settings?.omitNamesInEmail ?? false,
          client: { ip: clientIp(req), userAgent: req.header('user-agent') },
        });
        // The same answer whether or not the address already has an account.
        return { status: 'email_sent' as const };
      },
    ),
    defineRoute(
      {
        method: 'post',
        path: '/auth/verify-email',
        summary: 'Use the token of a sign-up or e-mail-change link; single-use, expiring',
        tag: 'signup',
        access: { kind: 'public' },
        body: verifyBody,
        response: z.object({ status: z.enum(['verified', 'email_changed']) }),
        errors: ['TOKEN_INVALID', 'CONFLICT'],
      },
      async ({ body }) => {
        const { purpose } = await deps.signupService.verifyEmail(body.token);
        return {
          status: purpose === 'signup' ? ('verified' as const) : ('email_changed' as const),
        };
      },
    ),
  ];
}
