import { Router } from 'express';
import { z } from 'zod';
import type { AuditEntry } from '../directory/audit-log.repository.js';
import type { Membership, ProfilePatch, UserProfile } from '../directory/users.repository.js';
import { parse, route, userOf } from './http.js';
import {
  emailAddress,
  mailSettings,
  personName,
  phoneNumber,
  postalAddress,
} from './identity.schemas.js';

export interface MeRoutesDeps {
  profileService: {
    profile(userId: string): Promise<UserProfile & { memberships: Membership[] }>;
    update(userId: string, patch: ProfilePatch): Promise<UserProfile>;
    requestEmailChange(
      userId: string,
      request: { newEmail: string; password: string | undefined },
    ): Promise<void>;
    auditHistory(userId: string, limit: number): Promise<AuditEntry[]>;
  };
}

/** The e-mail address is changed through POST /me/email, which verifies it again (P16). */
const patchBody = z
  .strictObject({
    name: personName.optional(),
    phone: phoneNumber.nullable().optional(),
    address: postalAddress.nullable().optional(),
    settings: mailSettings.optional(),
  })
  .refine((body) => Object.keys(body).length > 0, 'name one field to change');

const emailChangeBody = z.strictObject({
  email: emailAddress,
  /** Required when the account has a password, so a stolen access token is not enough. */
  password: z.string().min(1).max(1024).optional(),
});

const auditQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

/** The signed-in user's own account: see (P15), correct (P16) and review (P11). */
export function meRoutes(deps: MeRoutesDeps): Router {
  const router = Router();

  async function me(userId: string) {
    const profile = await deps.profileService.profile(userId);
    return {
      id: profile.id,
      name: profile.name,
      email: profile.email,
      phone: profile.phone,
      address: profile.address,
      settings: profile.settings,
      organisations: profile.memberships.map((m) => ({
        id: m.orgId,
        name: m.orgName,
        role: m.role,
      })),
    };
  }

  router.get(
    '/',
    route(async (req, res) => {
      res.json(await me(userOf(req)));
    }),
  );

  router.patch(
    '/',
    route(async (req, res) => {
      const body = parse(patchBody, req.body);
      const patch: ProfilePatch = {
        ...(body.name === undefined ? {} : { name: body.name }),
        ...(body.phone === undefined ? {} : { phone: body.phone }),
        ...(body.address === undefined ? {} : { address: body.address }),
        ...(body.settings?.omitNamesInEmail === undefined
          ? {}
          : { omitNamesInEmail: body.settings.omitNamesInEmail }),
      };
      await deps.profileService.update(userOf(req), patch);
      res.json(await me(userOf(req)));
    }),
  );

  router.post(
    '/email',
    route(async (req, res) => {
      const body = parse(emailChangeBody, req.body);
      await deps.profileService.requestEmailChange(userOf(req), {
        newEmail: body.email,
        password: body.password,
      });
      // Nothing changes until the link sent to the new address is used.
      res.status(202).json({ status: 'email_sent' });
    }),
  );

  router.get(
    '/audit',
    route(async (req, res) => {
      const { limit } = parse(auditQuery, req.query);
      const userId = userOf(req);
      const entries = await deps.profileService.auditHistory(userId, limit);
      res.json({
        entries: entries.map((e) => ({
          action: e.action,
          at: e.at.toISOString(),
          actor: { self: e.actorUserId === userId, userId: e.actorUserId },
          details: e.details,
        })),
      });
    }),
  );

  return router;
}
