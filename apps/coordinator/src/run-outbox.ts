import { envelope, type EventCodec } from '#libs/events';
import type { OutboxRow } from '#libs/outbox';
import type { RunWrite } from './run-store.sql.js';

/** The trace headers (traceparent/tracestate) for a run's outbox rows: the context of the events that caused them. */
export type RunTraceHeaders = (runId: string) => Readonly<Record<string, string>> | undefined;

/**
 * The Kafka side of a batch of transitions: tasks to `node.dispatch.<type>` and every state change to `run.events`,
 * both keyed by run id and in the order the machine produced them, so each run's messages keep their order.
 */
export async function runOutboxRows(
  codec: EventCodec,
  topicPrefix: string,
  writes: readonly RunWrite[],
  traceHeadersOf: RunTraceHeaders = () => undefined,
): Promise<OutboxRow[]> {
  const eventsTopic = `${topicPrefix}run.events`;
  const rows: Promise<OutboxRow>[] = [];
  for (const { run, effects } of writes) {
    const trace = traceHeadersOf(run.id);
    for (const effect of effects) {
      if (effect.type === 'dispatch') {
        const topic = `${topicPrefix}node.dispatch.${effect.nodeType}`;
        rows.push(
          codec
            .encode('node-dispatch', topic, {
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
            })
            .then((payload) => ({
              topic,
              key: run.id,
              eventType: 'node.dispatch',
              payload,
              headers: trace ? { 'workspace-id': run.workspaceId, ...trace } : { 'workspace-id': run.workspaceId },
            })),
        );
      } else if (effect.type === 'event') {
        rows.push(
          codec
            .encode('run-event', eventsTopic, {
              ...envelope(effect.seq, run.workspaceId),
              type: 'run.event',
              runId: run.id,
              workflowId: run.workflowId,
              kind: effect.kind,
              status: effect.status,
              nodeId: effect.nodeId ?? null,
              detailJson: effect.detail ? JSON.stringify(effect.detail) : null,
            })
            .then((payload) => ({
              topic: eventsTopic,
              key: run.id,
              eventType: 'run.event',
              payload,
              ...(trace ? { headers: trace } : {}),
            })),
        );
      }
    }
  }
  return Promise.all(rows);
}
