import type { Role } from '../../api';

export const roles: Role[] = ['owner', 'admin', 'member', 'viewer'];
/** The roles a member with `role` may invite, and so revoke invitations of (as the API's mayInvite). */
export const invitableRoles = (role: Role): Role[] =>
  role === 'owner' ? roles : roles.filter((r) => r !== 'owner');

export const roleNames: Record<Role, string> = {
  owner: 'Owner',
  admin: 'Admin',
  member: 'Member',
  viewer: 'Viewer',
};
