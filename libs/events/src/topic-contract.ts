import { NodeTypeValues, type EventsBySchema, type NodeType, type SchemaName } from './generated/event-types.js';

/** What a topic's message key is: the id whose order matters (DESIGN §2). */
export type TopicKey = 'workflow id' | 'run id';

/**
 * The event contract, declared once: every topic that carries events, with the schema of its values and its key.
 * Dispatch topics are one per node type of the Avro enum. Everything else (the full names with the deployment's
 * prefix, the broker settings in libs/kafka's catalog, what the codec encodes and the transport decodes) is derived.
 */
const TOPICS = {
  'patch.created': { schema: 'patch-created', key: 'workflow id' },
  'workflow.materialized': { schema: 'workflow-materialized', key: 'workflow id' },
  'run.requested': { schema: 'run-requested', key: 'run id' },
  'node.completed': { schema: 'node-completed', key: 'run id' },
  // Cancels, fired timers and poisoned tasks for the coordinator; co-partitioned with run.requested and node.completed.
  'run.control': { schema: 'run-control', key: 'run id' },
  // The coordinator's changelog (compacted), co-partitioned with its inputs.
  'run.state': { schema: 'run-state', key: 'run id' },
  'run.events': { schema: 'run-event', key: 'run id' },
} as const satisfies Record<string, { schema: SchemaName; key: TopicKey }>;

export type DispatchTopic = `node.dispatch.${NodeType}`;
export type EventTopic = keyof typeof TOPICS | DispatchTopic;
/** The schema of a topic's values. */
export type SchemaOf<T extends EventTopic> = T extends DispatchTopic
  ? 'node-dispatch'
  : T extends keyof typeof TOPICS
    ? (typeof TOPICS)[T]['schema']
    : never;
/** The event a topic carries. */
export type EventOf<T extends EventTopic> = EventsBySchema[SchemaOf<T>];

export const NODE_TYPES: readonly NodeType[] = NodeTypeValues;

export const dispatchTopic = (type: NodeType): DispatchTopic => `node.dispatch.${type}`;

/** Every event topic, in the order the catalog lists them. */
export const EVENT_TOPICS: readonly EventTopic[] = [
  'patch.created',
  'workflow.materialized',
  'run.requested',
  ...NODE_TYPES.map(dispatchTopic),
  'node.completed',
  'run.control',
  'run.state',
  'run.events',
];

export function topicContract<T extends EventTopic>(
  topic: T,
): { readonly schema: SchemaOf<T>; readonly key: TopicKey } {
  if (topic.startsWith('node.dispatch.')) return { schema: 'node-dispatch' as SchemaOf<T>, key: 'run id' };
  const entry = (TOPICS as Record<string, { schema: SchemaName; key: TopicKey }>)[topic];
  if (!entry) throw new Error(`no event topic ${topic}`);
  return entry as { schema: SchemaOf<T>; key: TopicKey };
}

export const isEventTopic = (name: string): name is EventTopic => (EVENT_TOPICS as readonly string[]).includes(name);

/** A deployment's topic names: the logical name behind its prefix (KAFKA_TOPIC_PREFIX), the only place they are joined. */
export class TopicNames {
  constructor(readonly prefix: string) {}

  /** The full name of an event topic, or of its dead-letter topic. */
  of(topic: EventTopic | `${EventTopic}.dlq`): string {
    return `${this.prefix}${topic}`;
  }

  /** The event topic a full name stands for, if it is one of this deployment's. */
  logical(name: string): EventTopic | undefined {
    if (!name.startsWith(this.prefix)) return undefined;
    const logical = name.slice(this.prefix.length);
    return isEventTopic(logical) ? logical : undefined;
  }
}
