import { randomInt } from 'node:crypto';
import type { ICustomPartitioner } from './kafkajs.js';

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/**
 * Kafka's murmur2 (Java's `Utils.murmur2`), in 32-bit integer arithmetic. kafkajs computes the same hash with 64-bit
 * `Long` objects, a dozen allocations per key: 3 % of the service's CPU in the closed loop of `bench:runs`, every
 * record a run writes being hashed once.
 */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const rest = length & 3;
  if (rest === 3) h ^= data[whole + 2]! << 16;
  if (rest >= 2) h ^= data[whole + 1]! << 8;
  if (rest >= 1) h = Math.imul(h ^ data[whole]!, M);
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition of a key among `count`, as Java clients, kcat and Kafka's own tools choose it. */
export function partitionOfKey(key: string | Buffer, count: number): number {
  const data = typeof key === 'string' ? Buffer.from(key) : key;
  return (murmur2(data) & 0x7fffffff) % count;
}

/**
 * kafkajs' DefaultPartitioner with the hash above: a keyed message goes to the partition Java's would choose, an
 * explicit partition is kept, and keyless messages go round robin over the partitions that have a leader.
 */
export const KeyPartitioner: ICustomPartitioner = () => {
  const counters = new Map<string, number>();
  return ({ topic, partitionMetadata, message }) => {
    if (message.partition !== null && message.partition !== undefined) return message.partition;
    if (message.key !== null && message.key !== undefined) return partitionOfKey(message.key, partitionMetadata.length);
    const counter = (counters.get(topic) ?? randomInt(0x7fffffff)) + 1;
    counters.set(topic, counter);
    const available = partitionMetadata.filter((p) => p.leader >= 0);
    if (available.length === 0) return counter % partitionMetadata.length;
    return available[counter % available.length]!.partitionId;
  };
};
