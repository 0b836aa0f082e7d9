import { createRequire } from 'node:module';

/**
 * kafkajs' own request encoders (not part of its public API), for what measures or checks the bytes kafkajs writes:
 * the encoder patch's test and `npm run bench:encoding`.
 */
const require = createRequire(import.meta.url);
type RequestFactory = (args: object) => { encode(): Promise<{ buffer: Buffer }> };
const produceRequest = require('kafkajs/src/protocol/requests/produce/v3/request.js') as RequestFactory;

export interface ProduceRecord {
  readonly key: string;
  readonly value: Buffer;
  readonly headers: Readonly<Record<string, string>>;
  readonly timestamp: number;
}

/** A W3C trace header as the platform's records carry one. */
export const TRACE_HEADERS = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' } as const;

/**
 * A coordinator's transactional produce request (v3, acks=-1, uncompressed) as kafkajs encodes it: one partition
 * batch per entry, on the topic and partition given.
 */
export async function encodeProduceRequest(
  batches: readonly { topic: string; partition: number; records: readonly ProduceRecord[] }[],
): Promise<Buffer> {
  const encoded = await produceRequest({
    acks: -1,
    timeout: 30_000,
    transactionalId: 'coordinator-p0',
    producerId: 7,
    producerEpoch: 1,
    compression: 0,
    topicData: batches.map(({ topic, partition, records }) => ({
      topic,
      partitions: [{ partition, firstSequence: 3, messages: records }],
    })),
  }).encode();
  return encoded.buffer;
}
