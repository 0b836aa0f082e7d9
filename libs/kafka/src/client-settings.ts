import type { ConsumerConfig, ProducerConfig } from 'kafkajs';
import { CompressionTypes } from './kafkajs.js';

/**
 * The project's Kafka client defaults, written once under the Java client's property names (what production-tuning
 * guides, and the seed document this issue came from, speak in) and mapped onto kafkajs 2.2.4's options. The seed is
 * gone; its list is reconstructed from the names issue 6 gives and the usual guides' values. Where our value differs
 * from the guide's, the comment says why. Properties kafkajs has no option for are listed in `KAFKAJS_GAPS` with what
 * the project does instead (also in infra/kafka/README.md).
 */

export type Acks = 'all' | '-1' | '1' | '0';
export type Compression = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

export interface ProducerProperties {
  readonly acks: Acks;
  readonly 'enable.idempotence': boolean;
  readonly 'max.in.flight.requests.per.connection': number;
  readonly 'linger.ms': number;
  readonly 'batch.size': number;
  readonly 'compression.type': Compression;
  readonly 'request.timeout.ms': number;
  readonly retries: number;
  readonly 'delivery.timeout.ms': number;
}

export interface ConsumerProperties {
  readonly 'fetch.min.bytes': number;
  readonly 'fetch.max.wait.ms': number;
  readonly 'max.partition.fetch.bytes': number;
  readonly 'fetch.max.bytes': number;
  readonly 'max.poll.records': number;
  readonly 'session.timeout.ms': number;
  readonly 'heartbeat.interval.ms': number;
  readonly 'enable.auto.commit': boolean;
  readonly 'auto.offset.reset': 'earliest' | 'latest';
  readonly 'isolation.level': 'read_committed' | 'read_uncommitted';
  readonly 'partition.assignment.strategy': 'range' | 'roundrobin' | 'cooperative-sticky';
}

/** The client-wide settings every producer, consumer and admin shares (kafkajs `new Kafka({...})`). */
export const KAFKA_CONNECTION = {
  connectionTimeout: 3000,
  requestTimeout: 30000,
  /** Metadata and connection retries; a producer's own `retry` (see the producers) overrides it for sends. */
  retry: { initialRetryTime: 100, retries: 8 },
} as const;

export const PRODUCER_PROPERTIES: ProducerProperties = {
  // Every in-sync replica has the write before the send resolves: the outbox deletes a row only after that.
  acks: 'all',
  // Retries cannot duplicate or reorder within a producer session.
  'enable.idempotence': true,
  // Guides say 5 (Java keeps order with idempotence up to 5); kafkajs does not re-sequence retried in-flight
  // requests (its maintainers on tulios/kafkajs#980), so order and no-duplicates only hold with 1. Throughput comes
  // from big batches instead.
  'max.in.flight.requests.per.connection': 1,
  // Guides: 5-20 ms to fill batches. kafkajs has no accumulator (KAFKAJS_GAPS): our callers batch themselves.
  'linger.ms': 0,
  // Guides: 64-256 KiB. Same gap; the outbox relay's batch is bounded by OUTBOX_RELAY_MAX_BATCH_BYTES instead.
  'batch.size': 900_000,
  // The catalog's topics are snappy; a producer that compresses the same way spares the broker recompressing.
  // lz4 and zstd need codec packages kafkajs does not bundle (KAFKAJS_GAPS).
  'compression.type': 'snappy',
  'request.timeout.ms': 30_000,
  // Bounded, unlike kafkajs' idempotent default (retry forever): a failure must reach the caller, which rolls back
  // and backs off visibly (libs/outbox). Guides say MAX_INT and let delivery.timeout.ms bound the time.
  retries: 5,
  // Java's total time budget for one record; kafkajs has none (KAFKAJS_GAPS), the relay's timeout plays that role.
  'delivery.timeout.ms': 120_000,
};

export const CONSUMER_PROPERTIES: ConsumerProperties = {
  // Answer as soon as one byte is there: latency over fetch efficiency on a lightly loaded pipeline.
  'fetch.min.bytes': 1,
  // Guides: 500 ms. Ours is per role (MATERIALIZER_MAX_WAIT_MS 20, COORDINATOR_/WORKER_MAX_WAIT_MS 100) because
  // with fetch.min.bytes=1 it only matters on an idle partition, where it bounds how late a shutdown notices.
  'fetch.max.wait.ms': 100,
  'max.partition.fetch.bytes': 1_048_576,
  'fetch.max.bytes': 10_485_760,
  // kafkajs hands eachBatch a whole fetched partition batch (KAFKAJS_GAPS); max.partition.fetch.bytes bounds it.
  'max.poll.records': 500,
  // Guides: 45 s (Java's default). CONSUMER_SESSION_TIMEOUT_MS (15 s) is what the roles run with: a dead member's
  // runs move on sooner; the transport heartbeats during long batches so slow handlers are not evicted.
  'session.timeout.ms': 30_000,
  // A third of the session or 3 s, whichever is smaller (kafkajs refuses heartbeat >= session).
  'heartbeat.interval.ms': 3_000,
  // Offsets commit after the handler's transaction (DESIGN §4): never on a timer.
  'enable.auto.commit': false,
  // A new group must see the events written before it existed (the outbox may have published them already).
  'auto.offset.reset': 'earliest',
  // Only committed transactional writes; kafkajs' default, stated so nobody flips it by accident.
  'isolation.level': 'read_committed',
  // The coordinator needs the same partition numbers of every topic it reads: range-like (libs/messaging's
  // co-partitioned assigner). Groups reading one topic keep kafkajs' round-robin, which is equivalent there.
  'partition.assignment.strategy': 'range',
};

/** What a producer needs: options for `kafka.producer()` and for every `send`/`sendBatch`. */
export interface KafkajsProducerOptions {
  readonly producer: Pick<ProducerConfig, 'idempotent' | 'maxInFlightRequests' | 'retry'>;
  readonly send: { readonly acks: -1 | 0 | 1; readonly timeout: number; readonly compression: CompressionTypes };
  /** Client-wide: kafkajs sets the request timeout on the Kafka object, not per producer. */
  readonly requestTimeout: number;
}

/** What a consumer needs: options for `kafka.consumer()`, `consumer.subscribe()` and `consumer.run()`. */
export interface KafkajsConsumerOptions {
  readonly consumer: Required<
    Pick<
      ConsumerConfig,
      'minBytes' | 'maxWaitTimeInMs' | 'maxBytesPerPartition' | 'maxBytes' | 'sessionTimeout' | 'heartbeatInterval'
    >
  > & { readonly readUncommitted: boolean };
  readonly subscribe: { readonly fromBeginning: boolean };
  readonly run: { readonly autoCommit: boolean };
}

const ACKS: Record<Acks, -1 | 0 | 1> = { all: -1, '-1': -1, '1': 1, '0': 0 };

/** Only the codecs kafkajs can write here: GZIP built in, Snappy registered by kafka-client.ts. */
const CODECS: Partial<Record<Compression, CompressionTypes>> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
};

export function toKafkajsProducer(props: ProducerProperties): KafkajsProducerOptions {
  const compression = CODECS[props['compression.type']];
  if (compression === undefined)
    throw new Error(
      `compression.type=${props['compression.type']} needs a kafkajs codec this project does not install (none, gzip, snappy)`,
    );
  const acks = ACKS[props.acks];
  // The same refusals the Java client makes, so a bad combination fails here instead of as a warning at run time.
  if (props['enable.idempotence'] && acks !== -1) throw new Error('enable.idempotence requires acks=all');
  if (props['enable.idempotence'] && props.retries < 1) throw new Error('enable.idempotence requires retries > 0');
  return {
    producer: {
      idempotent: props['enable.idempotence'],
      maxInFlightRequests: props['max.in.flight.requests.per.connection'],
      retry: { retries: props.retries },
    },
    send: { acks, timeout: props['request.timeout.ms'], compression },
    requestTimeout: props['request.timeout.ms'],
  };
}

export function toKafkajsConsumer(props: ConsumerProperties): KafkajsConsumerOptions {
  if (props['heartbeat.interval.ms'] >= props['session.timeout.ms'])
    throw new Error('heartbeat.interval.ms must be lower than session.timeout.ms');
  return {
    consumer: {
      minBytes: props['fetch.min.bytes'],
      maxWaitTimeInMs: props['fetch.max.wait.ms'],
      maxBytesPerPartition: props['max.partition.fetch.bytes'],
      maxBytes: props['fetch.max.bytes'],
      sessionTimeout: props['session.timeout.ms'],
      heartbeatInterval: props['heartbeat.interval.ms'],
      readUncommitted: props['isolation.level'] === 'read_uncommitted',
    },
    subscribe: { fromBeginning: props['auto.offset.reset'] === 'earliest' },
    run: { autoCommit: props['enable.auto.commit'] },
  };
}

/**
 * The defaults above as kafkajs options, mapped once at load (a bad combination fails the import). Producers that need
 * acks from every replica and no duplicates take `PRODUCER_OPTIONS.producer` and send with `PRODUCER_OPTIONS.send`.
 */
export const PRODUCER_OPTIONS: KafkajsProducerOptions = toKafkajsProducer(PRODUCER_PROPERTIES);
export const CONSUMER_OPTIONS: KafkajsConsumerOptions = toKafkajsConsumer(CONSUMER_PROPERTIES);

/**
 * What every producer of the project's events is opened with (`enable.idempotence`, one request in flight). Retries
 * stay each caller's choice: the relay bounds them (it rolls back and backs off), workers keep kafkajs' default.
 */
export const IDEMPOTENT_PRODUCER = {
  idempotent: PRODUCER_OPTIONS.producer.idempotent,
  maxInFlightRequests: PRODUCER_OPTIONS.producer.maxInFlightRequests,
} as const;

/** Java client properties kafkajs 2.2.4 has no option for, and what the project does instead. */
export const KAFKAJS_GAPS: readonly { readonly property: string; readonly instead: string }[] = [
  {
    property: 'linger.ms, batch.size',
    instead:
      'kafkajs has no record accumulator: each send()/sendBatch() is one request per broker. Callers batch: the outbox ' +
      'relay claims up to OUTBOX_RELAY_BATCH_SIZE rows (OUTBOX_RELAY_MAX_BATCH_BYTES) per sendBatch, workers send a ' +
      "batch's completions in one send, the API group-commits patches.",
  },
  {
    property: 'compression.type=lz4|zstd',
    instead:
      'kafkajs bundles GZIP only; we register Snappy (kafkajs-snappy) and the catalog uses snappy. lz4/zstd would need ' +
      'a third-party codec registered in kafka-client.ts.',
  },
  {
    property: 'delivery.timeout.ms',
    instead:
      "No total budget per record: bounded retries (retries) plus the caller's own deadline (OUTBOX_RELAY_TIMEOUT_MS), " +
      'after which the relay rolls the claim back and retries with a new producer.',
  },
  {
    property: 'max.poll.records',
    instead:
      'eachBatch receives a whole fetched partition batch; max.partition.fetch.bytes (maxBytesPerPartition) bounds it ' +
      'and the materializer caps patches per version (MATERIALIZER_MAX_PATCHES_PER_VERSION).',
  },
  {
    property: 'partition.assignment.strategy=cooperative-sticky|range',
    instead:
      'kafkajs ships round-robin only and rebalances eagerly (every member gives up all partitions). The coordinator ' +
      "uses libs/messaging's co-partitioned assigner (range-like); there is no incremental cooperative rebalancing.",
  },
  {
    property: 'max.in.flight.requests.per.connection > 1 with idempotence',
    instead: 'kafkajs does not keep order across retried in-flight requests; idempotent producers use 1.',
  },
];
