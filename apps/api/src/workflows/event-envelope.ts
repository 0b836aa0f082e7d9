import { randomUUID } from 'node:crypto';

/** The fields every event carries (DESIGN §2): id, per-key sequence, time and tenant. */
export const envelope = (seq: number, workspaceId: string) => ({
  eventId: randomUUID(),
  seq,
  occurredAt: Date.now(),
  workspaceId,
});
