import { z } from 'zod';
import { roleSchema } from '../../directory/organisations/roles.js';
import type { AuditEntry } from '../../directory/accounts/audit-log.repository.js';
import type {
  Membership,
  ProfilePatch,
  UserProfile,
} from '../../directory/accounts/users.repository.js';
import {
  emailAddress,
  emailSent,
  mailSettings,
  newPassword,
  personName,
  phoneNumber,
  postalAddress,
} from '../http/identity.schemas.js';
import { clientIp } from '../http/client-info.js';
import { defineRoute, type Route } from '../http/route.js';
import type { PasswordService } from '../../directory/accounts/password.service.js';

export interface MeRoutesDeps {
  profileService: {
    profile(userId: string): Promise<UserProfile & { memberships: Membership[] }>;
    update(userId: string, patch: ProfilePatch): Promise<UserProfile>;
    requestEmailChange(
      userId: string,
      request: { newEmail: string; password: string | undefined },
      client: { ip: string | undefined },
    ): Promise<void>;
    auditHistory(userId: string, limit: number): Promise<AuditEntry[]>;
  };
  passwordService: Pick<PasswordService, 'change'>;
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

const passwordChangeBody = z.strictObject({
  currentPassword: z.string().min(1).max(1024),
  newPassword,
});

const auditQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

const profileAnswer = z.object({
  id: z.string(),
  name: z.string(),
  email: z.string(),
  phone: z.string().nullable(),
  address: z.string().nullable(),
  settings: z.object({ omitNamesInEmail: z.boolean() }),
  organisations: z.array(z.object({ id: z.string(), name: z.string(), role: roleSchema })),
});

const auditAnswer = z.object({
  entries: z.array(
    z.object({
      action: z.string(),
      at: z.iso.datetime(),
      /** `self` when the user made the change; `userId` null when the actor no longer exists. */
      actor: z.object({ self: z.boolean(), userId: z.string().nullable() }),
      /** Field names and similar facts about the change, never the values (P11). */
      details: z.record(
        z.string(),
        z.union([z.string(), z.number(), z.boolean(), z.array(z.string())]),
      ),
    }),
  ),
});

/** The signed-in user's own account: see (P15), correct (P16) and review (P11). */
export function meRoutes(deps: MeRoutesDeps): Route[] {
  async function me(userId: string): Promise<z.input<typeof profileAnswer>> {
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

  return [
    defineRoute(
      {
        method: 'get',
        path: '/me',
        summary:
          "The signed-in user's profile (name, e-mail, phone, address, settings), organisations and roles (P15)",
        tag: 'me',
        access: { kind: 'user' },
        response: profileAnswer,
      },
      ({ userId }) => me(userId),
    ),
    defineRoute(
      {
        method: 'post',
        path: '/me/password',
        summary:
          'Change the password (the current one required, checked under the sign-in throttle); every other session ends',
        tag: 'me',
        access: { kind: 'user' },
        body: passwordChangeBody,
        status: 204,
        errors: ['INVALID_CREDENTIALS', 'TOO_MANY_ATTEMPTS', 'WEAK_PASSWORD'],
      },
      async ({ req, userId, body }) => {
        await deps.passwordService.change(userId, body, {
          ip: clientIp(req),
          sessionId: req.sessionId!,
        });
        return undefined;
      },
    ),
    defineRoute(
      {
        method: 'patch',
        path: '/me',
        summary:
          'Correct name, phone, address or the e-mail setting omitNamesInEmail (P14, P16); audited by field name',
        tag: 'me',
        access: { kind: 'user' },
        body: patchBody,
        response: profileAnswer,
      },
      async ({ userId, body }) => {
        const patch: ProfilePatch = {
          ...(body.name === undefined ? {} : { name: body.name }),
          ...(body.phone === undefined ? {} : { phone: body.phone }),
          ...(body.address === undefined ? {} : { address: body.address }),
          ...(body.settings?.omitNamesInEmail === undefined
            ? {}
            : { omitNamesInEmail: body.settings.omitNamesInEmail }),
        };
        await deps.profileService.update(userId, patch);
        return me(userId);
      },
    ),
    defineRoute(
      {
        method: 'post',
        path: '/me/email',
        summary:
          'Ask to move to a new e-mail address (current password required): a link goes to the new address, a notice to the old',
        tag: 'me',
        access: { kind: 'user' },
        body: emailChangeBody,
        ...emailSent,
        errors: ['INVALID_CREDENTIALS', 'TOO_MANY_ATTEMPTS'],
      },
      async ({ req, userId, body }) => {
        await deps.profileService.requestEmailChange(
          userId,
          { newEmail: body.email, password: body.password },
          { ip: clientIp(req) },
        );
        // Nothing changes until the link sent to the new address is used.
        return { status: 'email_sent' as const };
      },
    ),
    defineRoute(
      {
        method: 'get',
        path: '/me/audit',
        summary: "Changes made on the user's behalf, newest first (P11)",
        tag: 'me',
        access: { kind: 'user' },
        query: auditQuery,
        response: auditAnswer,
      },
      async ({ userId, query }) => {
        const entries = await deps.profileService.auditHistory(userId, query.limit);
        return {
          entries: entries.map((e) => ({
            action: e.action,
            at: e.at.toISOString(),
            actor: { self: e.actorUserId === userId, userId: e.actorUserId },
            details: e.details,
          })),
        };
      },
    ),
  ];
}
