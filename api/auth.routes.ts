import { Router } from 'express';
import { z } from 'zod';
import { AppError } from '../common/errors.js';
import type { UserRecord } from '../directory/users.repository.js';
import { parse, route } from './http.js';
import type { TokenService } from './token.service.js';

export interface AuthRoutesDeps {
  users: { findByEmail(email: string): Promise<UserRecord | null> };
  verifyPassword: (password: string, hash: string) => Promise<boolean>;
  tokens: TokenService;
  /** A hash of a random password, checked when the e-mail is unknown so timing reveals nothing. */
  decoyHash: string;
}

const loginBody = z.strictObject({
  email: z.email().max(254),
  password: z.string().min(1).max(1024),
});

export function authRoutes(deps: AuthRoutesDeps): Router {
  const router = Router();

  router.post(
    '/login',
    route(async (req, res) => {
      const { email, password } = parse(loginBody, req.body);
      const user = await deps.users.findByEmail(email);
      const matches = await deps.verifyPassword(password, user?.passwordHash ?? deps.decoyHash);
      // One answer for unknown e-mail, wrong password and unverified account alike.
      if (!user || !user.passwordHash || !matches || !user.verified) {
        throw new AppError('INVALID_CREDENTIALS');
      }
      const accessToken = await deps.tokens.issue({ userId: user.id });
      res.json({ accessToken, tokenType: 'Bearer' });
    }),
  );

  return router;
}
