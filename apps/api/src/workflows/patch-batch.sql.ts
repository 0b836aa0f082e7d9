import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import { envelope, type EventCodec } from '#libs/events';
import { insertOutboxRows, type OutboxRow } from '#libs/outbox';
import type { PatchOperation } from '#libs/workflows';

export interface PatchRequest {
  readonly workspaceId: string;
  readonly workflowId: string;
  readonly ops: readonly PatchOperation[];
  readonly idempotencyKey: string | undefined;
  /** sha256 of the request body: a replayed key with another body is an error, not a replay. */
  readonly requestHash: string;
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
  topic: string,
  requests: readonly PatchRequest[],
): Promise<BatchOutcome[]> {
  const outcomes: (BatchOutcome | undefined)[] = requests.map(() => undefined);

  // 1. Claim Idempotency-Keys. A key taken by a committed (or concurrently committing) request makes this one a replay.
  const keyed = requests
    .map((request, index) => ({ request, index }))
    .filter(({ request }) => request.idempotencyKey !== undefined)
    .sort((a, b) => (a.request.idempotencyKey as string).localeCompare(b.request.idempotencyKey as string));
  if (keyed.length) {
    const claimed = await client.query<{ workspace_id: string; scope: string; key: string }>(
      `INSERT INTO idempotency_keys (workspace_id, scope, key, request_hash, response_status, response_body)
       SELECT ws, scope, key, hash, 0, '{}'::jsonb FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) AS k(ws, scope, key, hash)
       ON CONFLICT DO NOTHING RETURNING workspace_id, scope, key`,
      [
        keyed.map((k) => k.request.workspaceId),
        keyed.map((k) => idempotencyScope(k.request.workflowId)),
        keyed.map((k) => k.request.idempotencyKey),
        keyed.map((k) => k.request.requestHash),
      ],
    );
    const won = new Set(claimed.rows.map((r) => `${r.workspace_id}\u0000${r.scope}\u0000${r.key}`));
    for (const { request, index } of keyed) {
      const id = `${request.workspaceId}\u0000${idempotencyScope(request.workflowId)}\u0000${request.idempotencyKey}`;
      if (won.has(id))
        won.delete(id); // the first request with a key in this batch wins; repeats replay it
      else outcomes[index] = { kind: 'replay' };
    }
  }

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
  const unknownWithKeys = keyed.filter(({ index }) => outcomes[index]?.kind === 'not_found');
  if (unknownWithKeys.length) {
    await client.query(
      'DELETE FROM idempotency_keys WHERE (workspace_id, scope, key) IN (SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[]))',
      [
        unknownWithKeys.map((k) => k.request.workspaceId),
        unknownWithKeys.map((k) => idempotencyScope(k.request.workflowId)),
        unknownWithKeys.map((k) => k.request.idempotencyKey),
      ],
    );
  }
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
    patches.map(async ({ request, patch }) => ({
      topic,
      key: request.workflowId,
      eventType: 'patch.created',
      payload: await codec.encode('patch-created', topic, {
        ...envelope(patch.seq, request.workspaceId),
        type: 'patch.created',
        workflowId: request.workflowId,
        patchId: patch.patchId,
        opsJson: JSON.stringify(request.ops),
        idempotencyKey: request.idempotencyKey ?? null,
      }),
    })),
  );
  await insertOutboxRows(client, rows);
  const answered = patches.filter((p) => p.request.idempotencyKey !== undefined);
  if (answered.length) {
    await client.query(
      `UPDATE idempotency_keys k SET response_status = 202, response_body = a.body
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::jsonb[]) AS a(ws, scope, key, body)
        WHERE k.workspace_id = a.ws AND k.scope = a.scope AND k.key = a.key`,
      [
        answered.map((p) => p.request.workspaceId),
        answered.map((p) => idempotencyScope(p.request.workflowId)),
        answered.map((p) => p.request.idempotencyKey),
        answered.map((p) => JSON.stringify(p.patch)),
      ],
    );
  }
  return outcomes as BatchOutcome[];
}

/** The stored answer of an Idempotency-Key, once the request that claimed it has committed. */
export async function readIdempotentAnswer(
  client: PoolClient,
  request: PatchRequest,
): Promise<{ requestHash: string; patch: AcceptedPatch } | undefined> {
  const { rows } = await client.query<{ request_hash: string; response_status: number; response_body: AcceptedPatch }>(
    'SELECT request_hash, response_status, response_body FROM idempotency_keys WHERE workspace_id = $1 AND scope = $2 AND key = $3',
    [request.workspaceId, idempotencyScope(request.workflowId), request.idempotencyKey],
  );
  const row = rows[0];
  return row && row.response_status === 202 ? { requestHash: row.request_hash, patch: row.response_body } : undefined;
}
