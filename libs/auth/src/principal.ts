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
  /** The key's workspace is an operators' one: its admin keys may act platform-wide. */
  readonly operator: boolean;
}

/** What a route asks of a key: a permission in its own workspace, or `operator` (an admin key of an operators' workspace). */
export type Requirement = Permission | 'operator';

/** Whether a key meets a route's requirement. */
export function meets(principal: Pick<Principal, 'permission' | 'operator'>, needed: Requirement): boolean {
  return needed === 'operator'
    ? principal.operator && principal.permission === 'admin'
    : allows(principal.permission, needed);
}

/** read < write < admin: a key may do what its level and every lower level allow. */
export function allows(held: Permission, needed: Permission): boolean {
  return PERMISSIONS.indexOf(held) >= PERMISSIONS.indexOf(needed);
}
