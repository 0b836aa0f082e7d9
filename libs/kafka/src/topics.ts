import { EVENT_TOPICS, topicContract, type EventTopic, type SchemaName, type TopicKey } from '#libs/events';

/**
 * Every topic of DESIGN §2 with its broker settings: the event topics of the contract (libs/events, which gives each
 * its schema and key) and their dead-letter topics. `topics:apply` creates or updates them, the schema registration
 * names its subjects after them, and tests get a private copy through `prefix`.
 */
export type Compression = 'snappy' | 'gzip' | 'none';

export interface TopicSpec {
  /** Full name on the broker, prefix included. */
  readonly name: string;
  /** Name without the prefix: what code and schemas refer to. */
  readonly logicalName: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly retentionMs: number;
  readonly compression: Compression;
  readonly cleanupPolicy: 'delete' | 'compact';
  /** What the message key is; keys carry the id whose order matters. */
  readonly key: TopicKey | 'as source';
  /** Avro schema (file in schemas/, without `.avsc`) of the value; dead-letter topics keep the source's raw bytes. */
  readonly valueSchema: SchemaName | null;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export interface CatalogOptions {
  prefix?: string;
  /**
   * One count for every topic: the coordinator reads run.requested and node.completed by run id, so those must be
   * co-partitioned (same count) for one member to own a run; keeping all topics equal makes that hard to break.
   */
  partitions: number;
  replicationFactor: number;
}

type Base = Omit<TopicSpec, 'name' | 'partitions' | 'replicationFactor'>;

/** How long each event topic keeps its messages, and how it is cleaned up. */
function brokerSettings(topic: EventTopic): Pick<Base, 'retentionMs' | 'cleanupPolicy'> {
  // A compacted changelog: a coordinator restores the live runs of a partition by reading it from the start.
  if (topic === 'run.state') return { retentionMs: 7 * DAY, cleanupPolicy: 'compact' };
  // Tasks and run events are consumed within seconds; three days cover a long outage of a consumer.
  if (topic.startsWith('node.dispatch.') || topic === 'run.events')
    return { retentionMs: 3 * DAY, cleanupPolicy: 'delete' };
  return { retentionMs: 7 * DAY, cleanupPolicy: 'delete' };
}

const SOURCES: Base[] = EVENT_TOPICS.map((topic) => {
  const { schema, key } = topicContract(topic);
  return { logicalName: topic, key, valueSchema: schema, compression: 'snappy', ...brokerSettings(topic) };
});

/** Poison messages wait for an operator: kept longer than their source, and rare enough that gzip costs nothing. */
const deadLetter = (source: Base): Base => ({
  ...source,
  logicalName: `${source.logicalName}.dlq`,
  key: 'as source',
  valueSchema: null,
  retentionMs: 14 * DAY,
  compression: 'gzip',
  // Every poison message is kept, even several of one key.
  cleanupPolicy: 'delete',
});

export function topicCatalog(options: CatalogOptions): TopicSpec[] {
  const prefix = options.prefix ?? '';
  return [...SOURCES, ...SOURCES.map(deadLetter)].map((base) => ({
    ...base,
    name: `${prefix}${base.logicalName}`,
    partitions: options.partitions,
    replicationFactor: options.replicationFactor,
  }));
}

/** Copies a write must reach: two of three (or more), one less than the copies below that, and at least one. */
export const minInsyncReplicas = (replicationFactor: number): number => Math.max(1, Math.min(2, replicationFactor - 1));

/** The broker-side configuration a spec implies (what `describeConfigs` is compared against). */
export function topicConfigEntries(spec: TopicSpec): Record<string, string> {
  return {
    // Producers write with acks=all: with three copies a write needs two, so one broker may be down or restarting
    // and nothing acknowledged is lost with it; a single copy has nothing to wait for.
    'min.insync.replicas': String(minInsyncReplicas(spec.replicationFactor)),
    'cleanup.policy': spec.cleanupPolicy,
    'retention.ms': String(spec.retentionMs),
    'compression.type': spec.compression === 'none' ? 'producer' : spec.compression,
  };
}
