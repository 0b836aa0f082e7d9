import { envelope, type EventCodec } from '#libs/events';
import type { Message, TopicMessages } from '#libs/kafka';
import { toStateRecord, type RunWrite } from './owned-run.js';

/** The trace headers (traceparent/tracestate) for a run's messages: the context of the events that caused them. */
export type RunTraceHeaders = (runId: string) => Readonly<Record<string, string>> | undefined;

/**
 * The Kafka side of a batch of transitions, all keyed by run id: tasks to `node.dispatch.<type>`, every state change
 * to `run.events`, and the run's new state to the `run.state` changelog (a tombstone for each run in `forget`). Each
 * run's messages keep the order the machine produced them in.
 */
export async function runMessages(
  codec: EventCodec,
  topicPrefix: string,
  writes: readonly RunWrite[],
  options: { at: number; forget?: readonly string[]; traceHeadersOf?: RunTraceHeaders },
): Promise<TopicMessages[]> {
  const eventsTopic = `${topicPrefix}run.events`;
  const stateTopic = `${topicPrefix}run.state`;
  const byTopic = new Map<string, Promise<Message>[]>();
  const add = (topic: string, message: Promise<Message>) => {
    const list = byTopic.get(topic) ?? [];
    list.push(message);
    byTopic.set(topic, list);
  };
  for (const write of writes) {
    const { run, effects } = write;
    const trace = options.traceHeadersOf?.(run.id);
    for (const effect of effects) {
      if (effect.type === 'dispatch') {
        const topic = `${topicPrefix}node.dispatch.${effect.nodeType}`;
        const value = codec.encode('node-dispatch', topic, {
          ...envelope(effect.seq, run.workspaceId),
          type: 'node.dispatch',
          runId: run.id,
          nodeId: effect.nodeId,
          nodeType: effect.nodeType,
          attempt: effect.attempt,
          configJson: JSON.stringify(effect.config),
          inputJson: JSON.stringify(effect.input),
          deadlineAt: effect.deadlineAt,
          workflowId: run.workflowId,
          fromType: effect.fromType,
          triggeredAt: effect.triggeredAt,
        });
        add(
          topic,
          value.then((v) => ({ key: run.id, value: v, headers: { 'workspace-id': run.workspaceId, ...trace } })),
        );
      } else if (effect.type === 'event') {
        const value = codec.encode('run-event', eventsTopic, {
          ...envelope(effect.seq, run.workspaceId),
          occurredAt: options.at,
          type: 'run.event',
          runId: run.id,
          workflowId: run.workflowId,
          kind: effect.kind,
          status: effect.status,
          nodeId: effect.nodeId ?? null,
          detailJson: effect.detail ? JSON.stringify(effect.detail) : null,
        });
        add(
          eventsTopic,
          value.then((v) => ({ key: run.id, value: v, ...(trace ? { headers: { ...trace } } : {}) })),
        );
      }
    }
    const state = codec.encode('run-state', stateTopic, toStateRecord(write, options.at));
    add(
      stateTopic,
      state.then((v) => ({ key: run.id, value: v })),
    );
  }
  for (const runId of options.forget ?? []) add(stateTopic, Promise.resolve({ key: runId, value: null }));
  return Promise.all([...byTopic].map(async ([topic, messages]) => ({ topic, messages: await Promise.all(messages) })));
}
