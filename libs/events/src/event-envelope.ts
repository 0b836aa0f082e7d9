import { randomUUID } from 'node:crypto';

/** The fields every event carries (DESIGN §2): a unique id, the per-key sequence number, the time and the tenant. */
export const envelope = (seq: number, workspaceId: string) => ({
  eventId: randomUUID(),
  seq,
  occurredAt: Date.now(),
  workspaceId,
});
