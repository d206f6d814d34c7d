import { z } from 'zod';
import type { SignupService } from '../../directory/accounts/signup.service.js';
import { clientIp } from '../http/client-info.js';
import {
  emailAddress,
  emailSent,
  mailSettings,
  newPassword,
  oneTimeToken,
  personName,
  termsVersion,
} from '../http/identity.schemas.js';
import { defineRoute, type Route } from '../http/route.js';

export interface SignupRoutesDeps {
  signupService: Pick<SignupService, 'signup' | 'completeSignup' | 'verifyEmail'>;
  /** The privacy terms version sign-up and invitations must accept. */
  privacyTermsVersion: string;
}

const signupBody = z.strictObject({ email: emailAddress });

/** The credentials are chosen here, by whoever opened the link: the mailbox's owner (P5). */
const completeBody = z.strictObject({
  token: oneTimeToken,
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
          'Sign up with an e-mail address: a link is sent there to choose name and password. Always 202, whether or not the address has an account; a few e-mails per address per hour',
        tag: 'signup',
        access: { kind: 'public' },
        body: signupBody,
        ...emailSent,
      },
      async ({ req, body }) => {
        await deps.signupService.signup({
          email: body.email,
          client: { ip: clientIp(req), userAgent: req.header('user-agent') },
        });
        // The same answer whether or not the address already has an account, or got its mail.
        return { status: 'email_sent' as const };
      },
    ),
    defineRoute(
      {
        method: 'post',
        path: '/auth/signup/complete',
        summary:
          "Use a sign-up link's token: choose the account's name and password and accept the privacy terms; the account is active then. Single-use, expiring",
        tag: 'signup',
        access: { kind: 'public' },
        body: completeBody,
        response: z.object({ status: z.literal('verified') }),
        errors: ['TOKEN_INVALID', 'WEAK_PASSWORD', 'TERMS_NOT_ACCEPTED'],
      },
      async ({ body }) => {
        await deps.signupService.completeSignup({
          token: body.token,
          name: body.name,
          password: body.password,
          termsVersion: body.termsVersion,
          omitNamesInEmail: body.settings?.omitNamesInEmail ?? false,
        });
        return { status: 'verified' as const };
      },
    ),
    defineRoute(
      {
        method: 'post',
        path: '/auth/verify-email',
        summary:
          'Use the token of an e-mail change link: the account moves to the new address (P16); single-use, expiring',
        tag: 'signup',
        access: { kind: 'public' },
        body: verifyBody,
        response: z.object({ status: z.literal('email_changed') }),
        errors: ['TOKEN_INVALID', 'CONFLICT'],
      },
      async ({ body }) => {
        await deps.signupService.verifyEmail(body.token);
        return { status: 'email_changed' as const };
      },
    ),
  ];
}
