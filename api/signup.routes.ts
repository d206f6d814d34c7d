import { Router } from 'express';
import { z } from 'zod';
import type { SignupInput, VerifiedPurpose } from '../directory/signup.service.js';
import { clientIp } from './client-info.js';
import { parse, route } from './http.js';
import {
  emailAddress,
  mailSettings,
  newPassword,
  oneTimeToken,
  personName,
  termsVersion,
} from './identity.schemas.js';

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

/** Mounted at /api/v1/auth, next to sign-in: sign-up with e-mail verification (P5). */
export function signupRoutes(deps: SignupRoutesDeps): Router {
  const router = Router();

  router.get('/privacy-terms', (_req, res) => {
    res.json({ version: deps.privacyTermsVersion });
  });

  router.post(
    '/signup',
    route(async (req, res) => {
      const body = parse(signupBody, req.body);
      await deps.signupService.signup({
        email: body.email,
        name: body.name,
        password: body.password,
        termsVersion: body.termsVersion,
        omitNamesInEmail: body.settings?.omitNamesInEmail ?? false,
        client: { ip: clientIp(req), userAgent: req.header('user-agent') },
      });
      // The same answer whether or not the address already has an account.
      res.status(202).json({ status: 'email_sent' });
    }),
  );

  router.post(
    '/verify-email',
    route(async (req, res) => {
      const { token } = parse(verifyBody, req.body);
      const { purpose } = await deps.signupService.verifyEmail(token);
      res.json({ status: purpose === 'signup' ? 'verified' : 'email_changed' });
    }),
  );

  return router;
}
