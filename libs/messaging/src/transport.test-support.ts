import { randomUUID } from 'node:crypto';
import type { PatchCreated } from '#libs/events';
import type { KafkaBatchServer } from './kafka-batch-server.js';

/** The transport tests' message: a patch.created event of its own (any topic would do; this one is small). */
export function patchCreated(workflowId: string = randomUUID(), seq = 1): PatchCreated {
  return {
    eventId: randomUUID(),
    type: 'patch.created',
    seq,
    occurredAt: Date.now(),
    workspaceId: randomUUID(),
    workflowId,
    patchId: randomUUID(),
    opsJson: '[]',
    idempotencyKey: null,
  };
}

/** Starts the server's consumer; resolves once it has subscribed and runs. */
export function listening(server: KafkaBatchServer): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    void server.listen((error?: unknown) => (error ? reject(new Error('listen failed', { cause: error })) : resolve()));
  });
}
