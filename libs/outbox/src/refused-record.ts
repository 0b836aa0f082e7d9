/**
 * Broker answers that refuse a record for what it is, so sending it again can never succeed: too large for the
 * broker's or the topic's limit, failing the broker's record validation, or aimed at a topic name that cannot exist.
 * Everything else (a broker away, a missing topic, not the leader, no authorization) is about the cluster and is
 * retried: dead-lettering on those would empty the outbox into the dead-letter table during an outage.
 */
const REFUSALS = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD', 'INVALID_TOPIC_EXCEPTION']);

/** The refusal, as `TYPE: message`, if the error (or one it wraps, as kafkajs' retrier does) is one; else undefined. */
export function recordRefusal(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 5; depth++) {
    const { type, message } = e as { type?: unknown; message?: unknown };
    if (typeof type === 'string' && REFUSALS.has(type)) return `${type}: ${String(message)}`;
    e = (e as { cause?: unknown }).cause ?? (e as { originalError?: unknown }).originalError;
  }
  return undefined;
}
