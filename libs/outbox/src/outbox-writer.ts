import type { PoolClient } from 'pg';

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
 */
export async function insertOutboxRows(client: PoolClient, rows: readonly OutboxRow[]): Promise<void> {
  if (!rows.length) return;
  await client.query(
    `INSERT INTO outbox (topic, message_key, event_type, payload, headers)
     SELECT t, k, e, p, h FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::jsonb[]) WITH ORDINALITY AS r(t, k, e, p, h, n)
     ORDER BY n`,
    [
      rows.map((r) => r.topic),
      rows.map((r) => r.key),
      rows.map((r) => r.eventType),
      rows.map((r) => r.payload),
      rows.map((r) => JSON.stringify(r.headers ?? {})),
    ],
  );
}
