import {
  CompressionCodecs,
  CompressionTypes,
  Kafka,
  logLevel,
  type Admin,
  type Consumer,
  type ConsumerConfig,
  type Producer,
  type ProducerConfig,
} from './kafkajs.js';
import SnappyCodec from 'kafkajs-snappy';
import { KAFKA_CONNECTION } from './client-settings.js';
import { KeyPartitioner } from './key-partitioner.js';
import type { Logger } from 'pino';
import { trackResource } from '#libs/resources';

// kafkajs ships only GZIP; topics in the catalog use Snappy, so every consumer must be able to read it.
CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec;

const LEVELS: Record<logLevel, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.NOTHING]: 'debug',
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/**
 * Lines kafkajs logs as warnings or errors for what is expected and handled, logged at debug instead: the warning
 * whenever an idempotent producer is given a retry count (the relay's producers bound theirs on purpose: a failed
 * publish rolls back and backs off visibly), and the broker's CONCURRENT_TRANSACTIONS answer to a transaction begun
 * while the previous one's markers are still being written, which the producer retries; a partition's leader moving
 * (a topic just created, a broker restarting), answered NOT_LEADER_FOR_PARTITION, which kafkajs retries after
 * refreshing its metadata (the caller sees the error if that never succeeds); the group coordinator not available yet
 * (a broker just started, still creating __consumer_offsets), which kafkajs retries likewise; and the broker refusing a record for
 * good (too large, invalid), which the outbox publishers log themselves with the row they moved to the dead-letter
 * table.
 */
const EXPECTED = [
  'Limiting retries for the idempotent producer',
  'another concurrent operation on the same transaction',
  'This server is not the leader for that topic-partition',
  'The group coordinator is not available',
  'larger than the max message size the server will accept',
  'message batch larger than the configured segment size',
  'record has failed the validation on broker',
];

/** The one place kafkajs is constructed, so a successor client can replace it behind this module. */
export function createKafka(options: { brokers: string[]; clientId: string; logger: Logger }): Kafka {
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    connectionTimeout: KAFKA_CONNECTION.connectionTimeout,
    requestTimeout: KAFKA_CONNECTION.requestTimeout,
    retry: { ...KAFKA_CONNECTION.retry },
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, namespace, log }) => {
        const { message, ...extra } = log;
        const error = (extra as { error?: unknown }).error;
        const text = `${String(message)} ${typeof error === 'string' ? error : ''}`;
        const expected = EXPECTED.some((known) => text.includes(known));
        options.logger[expected ? 'debug' : LEVELS[level]]({ namespace, ...extra }, message);
      },
  });
}

function track<T extends Producer | Consumer | Admin>(
  client: T,
  kind: 'kafka-producer' | 'kafka-consumer' | 'kafka-admin',
  name: string,
): T {
  let release: (() => void) | undefined;
  const connect = client.connect.bind(client);
  const disconnect = client.disconnect.bind(client);
  client.connect = async () => {
    await connect();
    release ??= trackResource(kind, name);
  };
  client.disconnect = async () => {
    try {
      await disconnect();
    } finally {
      release?.();
      release = undefined;
    }
  };
  return client;
}

export function openProducer(kafka: Kafka, name: string, config: ProducerConfig = {}): Producer {
  // murmur2 on the key, as Java clients, kcat and Kafka's own tools partition: a key lands on the same partition
  // whoever produces it.
  return track(kafka.producer({ createPartitioner: KeyPartitioner, ...config }), 'kafka-producer', name);
}

export function openConsumer(kafka: Kafka, config: ConsumerConfig): Consumer {
  return track(kafka.consumer(config), 'kafka-consumer', config.groupId);
}

export function openAdmin(kafka: Kafka, name: string): Admin {
  return track(kafka.admin(), 'kafka-admin', name);
}
