import type { SchemaName } from '#libs/events';

/**
 * Every topic of DESIGN §2, declared once. `topics:apply` creates or updates them, producers pick their compression
 * here, the schema registration names its subjects after them, and tests get a private copy through `prefix`.
 */
export const NODE_TYPES = ['function', 'http_request', 'agent', 'hitl', 'delay'] as const;
export type NodeType = (typeof NODE_TYPES)[number];

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
  readonly key: 'workflow id' | 'run id' | 'as source';
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

const SOURCES: Base[] = [
  {
    logicalName: 'patch.created',
    key: 'workflow id',
    valueSchema: 'patch-created',
    retentionMs: 7 * DAY,
    compression: 'snappy',
    cleanupPolicy: 'delete',
  },
  {
    logicalName: 'workflow.materialized',
    key: 'workflow id',
    valueSchema: 'workflow-materialized',
    retentionMs: 7 * DAY,
    compression: 'snappy',
    cleanupPolicy: 'delete',
  },
  {
    logicalName: 'run.requested',
    key: 'run id',
    valueSchema: 'run-requested',
    retentionMs: 7 * DAY,
    compression: 'snappy',
    cleanupPolicy: 'delete',
  },
  ...NODE_TYPES.map((type): Base => ({
    logicalName: `node.dispatch.${type}`,
    key: 'run id',
    valueSchema: 'node-dispatch',
    retentionMs: 3 * DAY,
    compression: 'snappy',
    cleanupPolicy: 'delete',
  })),
  {
    logicalName: 'node.completed',
    key: 'run id',
    valueSchema: 'node-completed',
    retentionMs: 7 * DAY,
    compression: 'snappy',
    cleanupPolicy: 'delete',
  },
  {
    // Cancels, fired timers and poisoned tasks for the coordinator; co-partitioned with run.requested and node.completed.
    logicalName: 'run.control',
    key: 'run id',
    valueSchema: 'run-control',
    retentionMs: 7 * DAY,
    compression: 'snappy',
    cleanupPolicy: 'delete',
  },
  {
    // The coordinator's changelog: the state of each run it owns, written in the transaction that changed it.
    // Compacted, so a coordinator restores the live runs of a partition by reading it from the start; co-partitioned
    // with the coordinator's inputs, so partition p of it holds exactly the runs of input partition p.
    logicalName: 'run.state',
    key: 'run id',
    valueSchema: 'run-state',
    retentionMs: 7 * DAY,
    compression: 'snappy',
    cleanupPolicy: 'compact',
  },
  {
    logicalName: 'run.events',
    key: 'run id',
    valueSchema: 'run-event',
    retentionMs: 3 * DAY,
    compression: 'snappy',
    cleanupPolicy: 'delete',
  },
];

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

/** The broker-side configuration a spec implies (what `describeConfigs` is compared against). */
export function topicConfigEntries(spec: TopicSpec): Record<string, string> {
  return {
    'cleanup.policy': spec.cleanupPolicy,
    'retention.ms': String(spec.retentionMs),
    'compression.type': spec.compression === 'none' ? 'producer' : spec.compression,
  };
}
