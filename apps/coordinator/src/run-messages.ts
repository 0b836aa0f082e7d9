import { dispatchTopic, envelope, type EventCodec, type EventTopic } from '#libs/events';
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
  writes: readonly RunWrite[],
  options: { at: number; forget?: readonly string[]; traceHeadersOf?: RunTraceHeaders },
): Promise<TopicMessages[]> {
  const byTopic = new Map<EventTopic, Promise<Message>[]>();
  const add = (topic: EventTopic, message: Promise<Message>) => {
    const list = byTopic.get(topic) ?? [];
    list.push(message);
    byTopic.set(topic, list);
  };
  for (const write of writes) {
    const { run, effects } = write;
    const trace = options.traceHeadersOf?.(run.id);
    for (const effect of effects) {
      if (effect.type === 'dispatch') {
        const topic = dispatchTopic(effect.nodeType);
        const task = {
          ...envelope(effect.seq, run.workspaceId),
          type: 'node.dispatch' as const,
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
        };
        add(topic, codec.message(topic, run.id, task, { 'workspace-id': run.workspaceId, ...trace }));
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
    add('run.state', codec.message('run.state', run.id, toStateRecord(write, options.at)));
  }
  for (const runId of options.forget ?? []) add('run.state', Promise.resolve({ key: runId, value: null }));
  return Promise.all(
    [...byTopic].map(async ([topic, messages]) => ({
      topic: codec.names.of(topic),
      messages: await Promise.all(messages),
    })),
  );
}
