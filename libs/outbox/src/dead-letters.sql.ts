import type pg from 'pg';
import type { ClaimedRow } from './relay-batch.js';

/** A pg client or pool: these statements run in the caller's transaction or on their own. */
type Queryable = Pick<pg.ClientBase, 'query'>;

/** A row the broker refused for good, and its answer. */
export interface RefusedRow {
  readonly row: ClaimedRow;
  readonly error: string;
}

/** A dead row as operators see it: everything but the payload, which can be large. */
export interface DeadLetterSummary {
  readonly id: string;
  readonly topic: string;
  readonly key: string;
  readonly eventType: string;
  readonly bytes: number;
  readonly error: string;
  readonly createdAt: string;
  readonly deadAt: string;
  readonly deadBy: string;
}

/**
 * Moves refused rows from the outbox to `outbox_dead_letters`, whole, with the error. A row already gone (another
 * publisher took it after its grace) is not moved, so a racing eager publisher and relay record it at most once.
 */
export async function moveToDeadLetters(client: Queryable, refused: readonly RefusedRow[], by: string): Promise<void> {
  if (!refused.length) return;
  await client.query(
    `WITH moved AS (DELETE FROM outbox WHERE id = ANY($1::bigint[]) RETURNING *)
     INSERT INTO outbox_dead_letters (id, topic, message_key, event_type, payload, headers, created_at, error, dead_by)
     SELECT m.id, m.topic, m.message_key, m.event_type, m.payload, m.headers, m.created_at, e.error, $3
       FROM moved m JOIN unnest($1::bigint[], $2::text[]) AS e(id, error) ON e.id = m.id
     ON CONFLICT (id) DO NOTHING`,
    [refused.map((r) => r.row.id), refused.map((r) => r.error), by],
  );
}

export async function listDeadLetters(client: Queryable, limit: number): Promise<DeadLetterSummary[]> {
  const { rows } = await client.query<{
    id: string;
    topic: string;
    message_key: string;
    event_type: string;
    bytes: number;
    error: string;
    created_at: Date;
    dead_at: Date;
    dead_by: string;
  }>(
    `SELECT id, topic, message_key, event_type, octet_length(payload) AS bytes, error, created_at, dead_at, dead_by
       FROM outbox_dead_letters ORDER BY id LIMIT $1`,
    [limit],
  );
  return rows.map((r) => ({
    id: r.id,
    topic: r.topic,
    key: r.message_key,
    eventType: r.event_type,
    bytes: r.bytes,
    error: r.error,
    createdAt: r.created_at.toISOString(),
    deadAt: r.dead_at.toISOString(),
    deadBy: r.dead_by,
  }));
}

/**
 * Puts a dead row back into the outbox as a new row, so it is published after whatever of its key waits there now
 * (the key's later rows went out without it: it cannot take its old place). Returns the new outbox id, or undefined
 * when there is no such dead row.
 */
export async function redriveDeadLetter(client: Queryable, id: string): Promise<string | undefined> {
  const { rows } = await client.query<{ id: string }>(
    `WITH dead AS (DELETE FROM outbox_dead_letters WHERE id = $1 RETURNING *)
     INSERT INTO outbox (topic, message_key, event_type, payload, headers)
     SELECT topic, message_key, event_type, payload, headers FROM dead
     RETURNING id`,
    [id],
  );
  return rows[0]?.id;
}

/** Deletes a dead row for good; false when there is none. */
export async function discardDeadLetter(client: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await client.query('DELETE FROM outbox_dead_letters WHERE id = $1', [id]);
  return (rowCount ?? 0) > 0;
}
