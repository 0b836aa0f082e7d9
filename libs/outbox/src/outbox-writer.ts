import type { PoolClient } from 'pg';
import { preparedStatement } from '#libs/db';
import type { ClaimedRow } from './relay-batch.js';

/** One event to publish once the surrounding transaction commits. */
export interface OutboxRow {
  readonly topic: string;
  /** Kafka message key: the id whose order matters (workflow id, run id). */
  readonly key: string;
  readonly eventType: string;
  /** The value exactly as it goes to Kafka (Confluent wire format). */
  readonly payload: Buffer;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * Inserts outbox rows in one statement, inside the caller's transaction: the rows become visible to the relay only
 * if that transaction commits, which is the whole point of the outbox. Row ids follow array order, so rows of one key
 * must be passed in the order they are to be published.
 *
 * With `publishAfterMs` the caller publishes the rows itself once it committed (EagerOutboxPublisher); the relays
 * take them only after that long, as the fallback for a writer that died first. The rows are returned with their ids
 * for that.
 */
const INSERT_OUTBOX_ROWS = preparedStatement(
  'outbox.insert',
  `INSERT INTO outbox (topic, message_key, event_type, payload, headers, publish_after)
   SELECT t, k, e, p, h, CASE WHEN $6::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => $6 / 1000.0) END
     FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::jsonb[]) WITH ORDINALITY AS r(t, k, e, p, h, n)
    ORDER BY n
   RETURNING id`,
);

export async function insertOutboxRows(
  client: PoolClient,
  rows: readonly OutboxRow[],
  options: { publishAfterMs?: number } = {},
): Promise<ClaimedRow[]> {
  if (!rows.length) return [];
  const { rows: inserted } = await client.query<{ id: string }>(
    INSERT_OUTBOX_ROWS.with([
      rows.map((r) => r.topic),
      rows.map((r) => r.key),
      rows.map((r) => r.eventType),
      rows.map((r) => r.payload),
      rows.map((r) => JSON.stringify(r.headers ?? {})),
      options.publishAfterMs ?? null,
    ]),
  );
  // Ids come from one sequence in insertion order, which is array order.
  const ids = inserted.map((r) => r.id).sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
  return rows.map((row, index) => ({
    id: ids[index] as string,
    topic: row.topic,
    key: row.key,
    payload: row.payload,
    headers: row.headers ?? {},
  }));
}
