import type { Role } from '../../api';

export const roles: Role[] = ['owner', 'admin', 'member', 'viewer'];
export const roleNames: Record<Role, string> = {
  owner: 'Owner',
  admin: 'Admin',
  member: 'Member',
  viewer: 'Viewer',
};
