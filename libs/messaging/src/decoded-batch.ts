import type { EventOf, EventTopic } from '#libs/events';

/** A message whose value the registry decoded and the transport checked against the topic's reader schema. */
export interface DecodedMessage<V = unknown> {
  readonly key: string | null;
  readonly value: V;
  readonly headers: Readonly<Record<string, string>>;
  readonly offset: string;
  readonly timestamp: string;
}

/** What a batch handler receives: the decodable messages of one fetch from one partition, in offset order. */
export interface EventBatch<T extends EventTopic = EventTopic> {
  /** Logical topic name (without the deployment prefix), which is also the handler's pattern. */
  readonly topic: T;
  readonly partition: number;
  readonly messages: readonly DecodedMessage<EventOf<T>>[];
}

/** A batch of any of the topics T, as a union a handler narrows by `topic`. */
export type AnyEventBatch<T extends EventTopic = EventTopic> = { [K in T]: EventBatch<K> }[T];

/**
 * Thrown by a handler whose partition now belongs to another group member (its transactional producer was fenced):
 * the batch is neither retried nor dead-lettered nor committed; the new owner handles it.
 */
export class PartitionLost extends Error {
  override readonly name: string = 'PartitionLost';
}

/**
 * Thrown by a handler for a batch it will not apply because an earlier batch of the same partition must be read
 * again first (its write failed after the handler had returned, see CommitAfter): the batch is left unresolved, and
 * the partition is read again from the earliest batch not yet durable.
 */
export class BatchRewound extends PartitionLost {
  override readonly name = 'BatchRewound';
}

/**
 * What a handler may resolve with when it has applied a batch but its writes are still under way: the transport
 * fetches the next batches meanwhile, commits the batch's offset only once `durable` resolved (and only after every
 * earlier batch of the partition), and, if `durable` rejects, reads the partition again from its earliest batch not
 * yet durable. A handler that keeps state across batches must then refuse (BatchRewound) the later batches of that
 * partition it still receives until the first of those is read again. Until a write of the partition succeeds again,
 * the transport awaits `durable` as part of handling, so a batch whose write keeps failing is retried and
 * dead-lettered like any failing batch.
 */
export class CommitAfter {
  constructor(readonly durable: Promise<void>) {}
}

/** Kafka header values are Buffers (or arrays of them); our headers are text. */
export function headersToStrings(
  headers: Record<string, Buffer | string | (Buffer | string)[] | undefined> | undefined,
): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) result[name] = first.toString();
  }
  return result;
}
