import type { TopicMessages } from 'kafkajs';

/** An outbox row as the relay claims it: only what goes to Kafka, plus the id to delete once Kafka has it. */
export interface ClaimedRow {
  /** bigint, kept as the string pg returns so no precision is lost. */
  readonly id: string;
  readonly topic: string;
  readonly key: string;
  readonly payload: Buffer;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * Cuts a claimed batch (in id order) so the bytes sent in one request stay under `maxBytes`: Kafka refuses an oversized
 * record batch outright, and a batch that can never be sent would wedge its lanes. Always keeps the first row, and only
 * ever drops a tail, so what is left of each key is still a prefix in id order.
 */
export function takeWithinBytes(rows: readonly ClaimedRow[], maxBytes: number): ClaimedRow[] {
  let bytes = 0;
  let count = 0;
  for (const row of rows) {
    bytes += row.payload.length + Buffer.byteLength(row.key) + headerBytes(row.headers);
    if (count > 0 && bytes > maxBytes) break;
    count++;
  }
  return rows.slice(0, count);
}

function headerBytes(headers: Readonly<Record<string, string>>): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(headers)) bytes += Buffer.byteLength(name) + Buffer.byteLength(value);
  return bytes;
}

/**
 * Groups rows by topic for one `sendBatch`, keeping id order inside each topic. Kafka keeps the order of one request's
 * messages per partition, and all rows of one key go to one partition, so each key's events land in id order.
 */
export function toTopicMessages(rows: readonly ClaimedRow[]): TopicMessages[] {
  const byTopic = new Map<string, TopicMessages>();
  for (const row of rows) {
    let entry = byTopic.get(row.topic);
    if (!entry) {
      entry = { topic: row.topic, messages: [] };
      byTopic.set(row.topic, entry);
    }
    entry.messages.push({ key: row.key, value: row.payload, headers: { ...row.headers } });
  }
  return [...byTopic.values()];
}
