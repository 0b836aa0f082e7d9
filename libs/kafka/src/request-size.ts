/**
 * Keeping produce requests under the broker's limit. kafkajs puts all of one request's messages for a partition into
 * one record batch, which the broker refuses as a whole once it is past message.max.bytes: a send of many messages
 * that are each small can fail as surely, and as forever on every retry, as one huge message.
 */

/** Bytes a message takes in a produce request, near enough (record framing counted generously) to stay under a limit. */
export function messageBytes(message: {
  readonly key?: string | Buffer | null;
  readonly value: Buffer | string | null;
  readonly headers?: Readonly<Record<string, unknown>>;
}): number {
  let bytes = 32 + sizeOf(message.key) + sizeOf(message.value);
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    bytes += 8 + Buffer.byteLength(name) + sizeOf(value);
  }
  return bytes;
}

/**
 * Splits items, in order, into runs whose sizes add up to at most `maxBytes`; an item larger than that goes alone.
 * Sent one after the other by one producer, the runs keep each partition's order.
 */
export function chunkByBytes<T>(items: readonly T[], size: (item: T) => number, maxBytes: number): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const itemBytes = size(item);
    if (current.length && bytes + itemBytes > maxBytes) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += itemBytes;
  }
  if (current.length) chunks.push(current);
  return chunks;
}

function sizeOf(value: unknown): number {
  if (Buffer.isBuffer(value)) return value.length;
  if (typeof value === 'string') return Buffer.byteLength(value);
  if (Array.isArray(value)) return value.reduce((sum: number, v) => sum + sizeOf(v), 0);
  return 0;
}
