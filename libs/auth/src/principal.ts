import { PERMISSIONS } from '#libs/api-contract';

export { PERMISSIONS };
export type Permission = (typeof PERMISSIONS)[number];

/** Who is calling: the workspace and permission of the API key that signed the request. */
export interface Principal {
  readonly keyId: string;
  readonly workspaceId: string;
  readonly permission: Permission;
  /** The key's label, if its creator gave it one (hitl approvers may name it). */
  readonly label: string | null;
}

/** read < write < admin: a key may do what its level and every lower level allow. */
export function allows(held: Permission, needed: Permission): boolean {
  return PERMISSIONS.indexOf(held) >= PERMISSIONS.indexOf(needed);
}
