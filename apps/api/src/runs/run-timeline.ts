import type { getRunTimeline, RouteOutput } from '#libs/api-contract';

type Timeline = RouteOutput<typeof getRunTimeline>;
/** One projected run event, as `run_events` holds it. */
export type TimelineEvent = Timeline['events'][number];
export type NodeTimeline = Timeline['nodes'][number];

const FINISHED = new Set(['succeeded', 'failed', 'skipped', 'cancelled', 'timed_out']);

/** Per node, in the order nodes first appear: attempts (dispatches), first dispatch, finish and the time between. */
export function nodeTimelines(events: readonly TimelineEvent[]): NodeTimeline[] {
  const nodes = new Map<string, NodeTimeline>();
  for (const event of events) {
    if (event.nodeId === null) continue;
    let node = nodes.get(event.nodeId);
    if (!node) {
      node = {
        nodeId: event.nodeId,
        attempts: 0,
        firstDispatchedAt: null,
        finishedAt: null,
        status: event.status,
        durationMs: null,
      };
      nodes.set(event.nodeId, node);
    }
    node.status = event.status;
    if (event.kind === 'node.dispatched') {
      node.attempts++;
      node.firstDispatchedAt ??= event.occurredAt;
    }
    if (FINISHED.has(event.status)) node.finishedAt = event.occurredAt;
  }
  for (const node of nodes.values()) {
    if (node.firstDispatchedAt && node.finishedAt) {
      node.durationMs = Date.parse(node.finishedAt) - Date.parse(node.firstDispatchedAt);
    }
  }
  return [...nodes.values()];
}
