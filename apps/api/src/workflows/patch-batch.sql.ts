import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import { claimKeys, releaseKeys, storeAnswers, type KeyClaim } from '../idempotency-keys.sql.js';
import { envelope, type EventCodec } from '#libs/events';
import { insertOutboxRows, type OutboxRow } from '#libs/outbox';
import type { PatchOperation } from '#libs/workflows';
import type { EagerRows } from '../eager-outbox.js';

export interface PatchRequest {
  readonly workspaceId: string;
  readonly workflowId: string;
  readonly ops: readonly PatchOperation[];
  readonly idempotencyKey: string | undefined;
  /** sha256 of the request body: a replayed key with another body is an error, not a replay. */
  readonly requestHash: string;
  /** W3C trace context of the POST (traceparent/tracestate), carried by the patch.created event's headers. */
  readonly traceHeaders?: Readonly<Record<string, string>> | undefined;
}

export interface AcceptedPatch {
  readonly patchId: string;
  readonly seq: number;
}

/** What one request of a batch came to inside the transaction. */
export type BatchOutcome =
  | { kind: 'accepted'; patch: AcceptedPatch }
  | { kind: 'not_found' }
  /** Its Idempotency-Key was already taken (by an earlier request): look the stored answer up after commit. */
  | { kind: 'replay' };

const idempotencyScope = (workflowId: string) => `patches:${workflowId}`;

/**
 * Writes many patch requests in one transaction with a handful of set-based statements (group commit), returning
 * one outcome per request, in request order. Lock order is fixed (idempotency keys by key, then sequence rows by workflow id) so
 * concurrent batches cannot deadlock. Patches of one workflow get consecutive sequence numbers in request order, and
 * their outbox rows are inserted in that order.
 */
export async function writePatchBatch(
  client: PoolClient,
  codec: EventCodec,
  requests: readonly PatchRequest[],
  eager?: EagerRows,
): Promise<BatchOutcome[]> {
  const outcomes: (BatchOutcome | undefined)[] = requests.map(() => undefined);

  // 1. Claim Idempotency-Keys. A key taken by a committed (or concurrently committing) request makes this one a replay.
  const keyed = requests.flatMap((request, index) =>
    request.idempotencyKey === undefined ? [] : [{ request, index }],
  );
  const claims = keyed.map(({ request }) => patchKeyClaim(request));
  const won = await claimKeys(client, claims);
  keyed.forEach(({ index }, i) => {
    if (!won.has(i)) outcomes[index] = { kind: 'replay' };
  });

  // 2. Lock the workflows' sequence rows in id order, checking each belongs to the caller's workspace.
  const live = requests.map((request, index) => ({ request, index })).filter(({ index }) => !outcomes[index]);
  const workflowIds = [...new Set(live.map(({ request }) => request.workflowId))].sort();
  const owners = await client.query<{ id: string; workspace_id: string }>(
    'SELECT workflow_id AS id, workspace_id FROM workflow_sequences WHERE workflow_id = ANY($1::uuid[]) ORDER BY workflow_id FOR UPDATE',
    [workflowIds],
  );
  const ownerOf = new Map(owners.rows.map((r) => [r.id, r.workspace_id]));
  const accepted = live.filter(({ request, index }) => {
    if (ownerOf.get(request.workflowId) === request.workspaceId) return true;
    outcomes[index] = { kind: 'not_found' };
    return false;
  });
  await releaseKeys(
    client,
    keyed.filter(({ index }) => outcomes[index]?.kind === 'not_found').map(({ request }) => patchKeyClaim(request)),
  );
  if (!accepted.length) return outcomes as BatchOutcome[];

  // 3. Reserve a block of sequence numbers per workflow.
  const counts = new Map<string, number>();
  for (const { request } of accepted) counts.set(request.workflowId, (counts.get(request.workflowId) ?? 0) + 1);
  const reserved = await client.query<{ id: string; first: string }>(
    `UPDATE workflow_sequences s SET next_seq = s.next_seq + c.n FROM unnest($1::uuid[], $2::int[]) AS c(id, n)
      WHERE s.workflow_id = c.id RETURNING s.workflow_id AS id, s.next_seq - c.n AS first`,
    [[...counts.keys()], [...counts.values()]],
  );
  const nextSeq = new Map(reserved.rows.map((r) => [r.id, Number(r.first)]));

  // 4. The patches, their events, and the answers stored for their Idempotency-Keys.
  const patches = accepted.map(({ request, index }) => {
    const seq = nextSeq.get(request.workflowId) as number;
    nextSeq.set(request.workflowId, seq + 1);
    const patch = { patchId: randomUUID(), seq };
    outcomes[index] = { kind: 'accepted', patch };
    return { request, patch };
  });
  await client.query(
    `INSERT INTO patches (id, workflow_id, seq, ops)
     SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::jsonb[])`,
    [
      patches.map((p) => p.patch.patchId),
      patches.map((p) => p.request.workflowId),
      patches.map((p) => p.patch.seq),
      patches.map((p) => JSON.stringify(p.request.ops)),
    ],
  );
  const rows: OutboxRow[] = await Promise.all(
    patches.map(({ request, patch }) =>
      codec.outboxRow(
        'patch.created',
        request.workflowId,
        {
          ...envelope(patch.seq, request.workspaceId),
          type: 'patch.created',
          workflowId: request.workflowId,
          patchId: patch.patchId,
          opsJson: JSON.stringify(request.ops),
          idempotencyKey: request.idempotencyKey ?? null,
        },
        request.traceHeaders,
      ),
    ),
  );
  const inserted = await insertOutboxRows(client, rows, eager ? { publishAfterMs: eager.publishAfterMs } : {});
  eager?.publish(inserted);
  await storeAnswers(
    client,
    patches
      .filter((p) => p.request.idempotencyKey !== undefined)
      .map((p) => ({ ...patchKeyClaim(p.request), body: p.patch })),
  );
  return outcomes as BatchOutcome[];
}

export const patchKeyClaim = (request: PatchRequest): KeyClaim => ({
  workspaceId: request.workspaceId,
  scope: idempotencyScope(request.workflowId),
  key: request.idempotencyKey as string,
  requestHash: request.requestHash,
});
