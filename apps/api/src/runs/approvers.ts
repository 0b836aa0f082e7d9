/** Who decides: the key's id and its label. */
export interface Decider {
  readonly keyId: string;
  readonly label: string | null;
}

/**
 * Whether this key may approve or reject a hitl node whose config names `approvers` (key ids or key labels). A node
 * without approvers (or with an empty list) may be decided by any write key of the workspace.
 */
export function mayDecide(approvers: unknown, who: Decider): boolean {
  if (!Array.isArray(approvers) || approvers.length === 0) return true;
  return approvers.some((approver) => approver === who.keyId || (who.label !== null && approver === who.label));
}
