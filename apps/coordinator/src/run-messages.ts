import {
  dispatchTopic,
  envelope,
  type EncodedMessage,
  type EventCodec,
  type EventTopic,
  type NodeCacheSetting,
} from '#libs/events';
import { chunkByBytes, messageBytes, type Message, type TopicMessages } from '#libs/kafka';
import type { NodeCacheOptions } from '#libs/workflows';
import { toStateRecord, type RunWrite, type SpillJson } from './owned-run.js';

/** The trace headers (traceparent/tracestate) for a run's messages: the context of the events that caused them. */
export type RunTraceHeaders = (runId: string) => Readonly<Record<string, string>> | undefined;

/** One message of a run's transition, with the topic it goes to. */
export interface RunMessage {
  readonly topic: EventTopic;
  readonly message: EncodedMessage;
}

export interface RunMessageOptions {
  readonly at: number;
  readonly traceHeadersOf?: RunTraceHeaders;
  /** Task inputs and configs, and the changelog's input, state and effects, too large to travel inline go here. */
  readonly spill: SpillJson;
}

/**
 * The Kafka side of one transition, keyed by run id: tasks to `node.dispatch.<type>`, every state change to
 * `run.events`, and the run's new state to the `run.state` changelog, in the order the machine produced them.
 */
export async function transitionMessages(
  codec: EventCodec,
  write: RunWrite,
  options: RunMessageOptions,
): Promise<RunMessage[]> {
  const { run, effects } = write;
  const trace = options.traceHeadersOf?.(run.id);
  const messages: Promise<RunMessage>[] = [];
  const add = <T extends EventTopic>(topic: T, message: Promise<EncodedMessage>) =>
    messages.push(message.then((m) => ({ topic, message: m })));
  for (const effect of effects) {
    if (effect.type === 'dispatch') {
      const topic = dispatchTopic(effect.nodeType);
      const task = async () => {
        const [config, input] = await Promise.all([
          options.spill(JSON.stringify(effect.config)),
          options.spill(JSON.stringify(effect.input)),
        ]);
        return codec.message(
          topic,
          run.id,
          {
            ...envelope(effect.seq, run.workspaceId),
            type: 'node.dispatch' as const,
            runId: run.id,
            nodeId: effect.nodeId,
            nodeType: effect.nodeType,
            attempt: effect.attempt,
            configJson: config.json,
            configRef: config.ref,
            inputJson: input.json,
            inputRef: input.ref,
            deadlineAt: effect.deadlineAt,
            workflowId: run.workflowId,
            fromType: effect.fromType,
            triggeredAt: effect.triggeredAt,
            permission: run.permission,
            cache: effect.cache ? nodeCacheSetting(effect.cache) : null,
          },
          { 'workspace-id': run.workspaceId, ...trace },
        );
      };
      add(topic, task());
    } else if (effect.type === 'event') {
      const event = {
        ...envelope(effect.seq, run.workspaceId),
        occurredAt: options.at,
        type: 'run.event' as const,
        runId: run.id,
        workflowId: run.workflowId,
        kind: effect.kind,
        status: effect.status,
        nodeId: effect.nodeId ?? null,
        detailJson: effect.detail ? JSON.stringify(effect.detail) : null,
      };
      add('run.events', codec.message('run.events', run.id, event, trace));
    }
  }
  add(
    'run.state',
    toStateRecord(write, options.at, options.spill).then((record) => codec.message('run.state', run.id, record)),
  );
  return Promise.all(messages);
}

/**
 * The messages of a transaction as the requests that send them, in order, each under `maxBytes` (request-size.ts;
 * every message is under it once the runs are bounded). Per key the order holds: a key has one partition, and one
 * transactional producer's requests are written in order.
 */
export function sendRequests(
  codec: EventCodec,
  messages: readonly RunMessage[],
  tombstones: readonly string[],
  maxBytes: number,
): TopicMessages[][] {
  const all: { topic: string; message: Message }[] = [
    ...messages.map(({ topic, message }) => ({ topic: codec.names.of(topic), message })),
    ...tombstones.map((runId) => ({ topic: codec.names.of('run.state'), message: { key: runId, value: null } })),
  ];
  return chunkByBytes(all, (m) => messageBytes(m.message), maxBytes).map((chunk) => {
    const byTopic = new Map<string, TopicMessages>();
    for (const { topic, message } of chunk) {
      const entry = byTopic.get(topic) ?? { topic, messages: [] };
      entry.messages.push(message);
      byTopic.set(topic, entry);
    }
    return [...byTopic.values()];
  });
}

/** A definition's `cache` block as a task carries it: every setting, null where the definition has none. */
function nodeCacheSetting(cache: NodeCacheOptions): NodeCacheSetting {
  return {
    enabled: cache.enabled ?? null,
    ttlMs: cache.ttlMs ?? null,
    semantic: cache.semantic ?? null,
    similarity: cache.similarity ?? null,
    semanticTtlMs: cache.semanticTtlMs ?? null,
  };
}
