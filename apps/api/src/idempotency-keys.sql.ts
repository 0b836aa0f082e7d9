import type { PoolClient } from 'pg';
import { ProblemError } from '#libs/platform';

/** One Idempotency-Key of a request, scoped per workspace and route (`patches:<workflow>`, `runs:<workflow>`). */
export interface KeyClaim {
  readonly workspaceId: string;
  readonly scope: string;
  readonly key: string;
  readonly requestHash: string;
}

const id = (c: Pick<KeyClaim, 'workspaceId' | 'scope' | 'key'>) => `${c.workspaceId}\u0000${c.scope}\u0000${c.key}`;

/**
 * Claims the keys of a batch in key order (so concurrent batches cannot deadlock) and returns the indexes of the
 * claims that won. A key held by a committed or concurrently committing request loses (its request replays that
 * answer), and so does a repeat of a key within the batch after its first use.
 */
export async function claimKeys(client: PoolClient, claims: readonly KeyClaim[]): Promise<Set<number>> {
  const order = claims.map((claim, index) => ({ claim, index })).sort((a, b) => a.claim.key.localeCompare(b.claim.key));
  if (!order.length) return new Set();
  const { rows } = await client.query<{ workspace_id: string; scope: string; key: string }>(
    `INSERT INTO idempotency_keys (workspace_id, scope, key, request_hash, response_status, response_body)
     SELECT ws, scope, key, hash, 0, '{}'::jsonb FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) AS k(ws, scope, key, hash)
     ON CONFLICT DO NOTHING RETURNING workspace_id, scope, key`,
    [
      order.map((o) => o.claim.workspaceId),
      order.map((o) => o.claim.scope),
      order.map((o) => o.claim.key),
      order.map((o) => o.claim.requestHash),
    ],
  );
  const open = new Set(rows.map((r) => id({ workspaceId: r.workspace_id, scope: r.scope, key: r.key })));
  const won = new Set<number>();
  for (const { claim, index } of order) {
    if (open.delete(id(claim))) won.add(index);
  }
  return won;
}

/** Frees keys whose requests were refused (a 404), so the same key can be used once the request is right. */
export async function releaseKeys(client: PoolClient, claims: readonly KeyClaim[]): Promise<void> {
  if (!claims.length) return;
  await client.query(
    'DELETE FROM idempotency_keys WHERE (workspace_id, scope, key) IN (SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[]))',
    [claims.map((c) => c.workspaceId), claims.map((c) => c.scope), claims.map((c) => c.key)],
  );
}

export async function storeAnswers(
  client: PoolClient,
  answers: readonly (KeyClaim & { readonly body: unknown })[],
): Promise<void> {
  if (!answers.length) return;
  await client.query(
    `UPDATE idempotency_keys k SET response_status = 202, response_body = a.body
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::jsonb[]) AS a(ws, scope, key, body)
      WHERE k.workspace_id = a.ws AND k.scope = a.scope AND k.key = a.key`,
    [
      answers.map((a) => a.workspaceId),
      answers.map((a) => a.scope),
      answers.map((a) => a.key),
      answers.map((a) => JSON.stringify(a.body)),
    ],
  );
}

/** The stored 202 answer of a key, once the request that claimed it has committed; undefined while it has not. */
export async function readAnswer<T>(
  client: PoolClient,
  claim: Omit<KeyClaim, 'requestHash'>,
): Promise<{ requestHash: string; body: T } | undefined> {
  const { rows } = await client.query<{ request_hash: string; response_status: number; response_body: T }>(
    'SELECT request_hash, response_status, response_body FROM idempotency_keys WHERE workspace_id = $1 AND scope = $2 AND key = $3',
    [claim.workspaceId, claim.scope, claim.key],
  );
  const row = rows[0];
  return row && row.response_status === 202 ? { requestHash: row.request_hash, body: row.response_body } : undefined;
}

/**
 * The answer for a request whose key an earlier request holds: that request's answer when it was the same request,
 * else a named error (a key reused for another body, or one whose first request has not committed).
 */
export async function replayAnswer<T>(client: PoolClient, claim: KeyClaim, what: string): Promise<T> {
  const stored = await readAnswer<T>(client, claim);
  if (!stored) {
    throw new ProblemError(
      'dependency_unavailable',
      'the first request with this Idempotency-Key did not finish; retry',
    );
  }
  if (stored.requestHash !== claim.requestHash) {
    throw new ProblemError('idempotency_key_reused', `Idempotency-Key "${claim.key}" was used for a different ${what}`);
  }
  return stored.body;
}
