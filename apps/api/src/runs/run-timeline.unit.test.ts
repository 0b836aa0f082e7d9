import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nodeTimelines, type TimelineEvent } from './run-timeline.js';

const at = (ms: number) => new Date(Date.UTC(2026, 11, 2, 9, 0, 0, ms)).toISOString();
const event = (seq: number, kind: string, status: string, nodeId: string | null, ms: number): TimelineEvent => ({
  seq,
  kind,
  status,
  nodeId,
  detail: null,
  occurredAt: at(ms),
});

describe('nodeTimelines', () => {
  it('counts dispatches as attempts and times a node from its first dispatch to its finish, retries included', () => {
    const nodes = nodeTimelines([
      event(1, 'run.started', 'running', null, 0),
      event(2, 'node.dispatched', 'running', 'fetch', 10),
      event(3, 'node.failed', 'pending', 'fetch', 40),
      event(4, 'node.dispatched', 'running', 'fetch', 240),
      event(5, 'node.completed', 'succeeded', 'fetch', 300),
      event(6, 'node.waiting', 'waiting', 'review', 301),
      event(7, 'node.skipped', 'skipped', 'other', 302),
    ]);
    assert.deepEqual(nodes, [
      {
        nodeId: 'fetch',
        attempts: 2,
        firstDispatchedAt: at(10),
        finishedAt: at(300),
        status: 'succeeded',
        durationMs: 290,
      },
      { nodeId: 'review', attempts: 0, firstDispatchedAt: null, finishedAt: null, status: 'waiting', durationMs: null },
      {
        nodeId: 'other',
        attempts: 0,
        firstDispatchedAt: null,
        finishedAt: at(302),
        status: 'skipped',
        durationMs: null,
      },
    ]);
  });
});
