import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WorkflowDefinition } from '#libs/workflows';
import type { StoredPatch, WorkflowHead } from './materialize.sql.js';
import { planVersions } from './plan-versions.js';

const definition: WorkflowDefinition = { nodes: { a: { type: 'function', config: { expression: '1' } } }, edges: [] };
const head = (id: string, appliedThroughSeq = 0, latestVersion = 1): WorkflowHead => ({
  id,
  workspaceId: 'ws',
  latestVersion,
  appliedThroughSeq,
  definition,
});
const addNode = (workflowId: string, seq: number): StoredPatch => ({
  id: `${workflowId}-${seq}`,
  workflowId,
  seq,
  ops: [{ op: 'add', path: `/nodes/n${seq}`, value: { type: 'function', config: { expression: String(seq) } } }],
});

describe('planVersions', () => {
  it('folds a backlog into versions of at most maxPerVersion patches, numbered on from the latest', () => {
    const pending = Array.from({ length: 250 }, (_, i) => addNode('w', i + 1));
    const plan = planVersions([head('w', 0, 4)], pending, 100, {});
    assert.deepEqual(
      plan.versions.map((v) => [v.version, v.patchCount, v.appliedThroughSeq]),
      [
        [5, 100, 100],
        [6, 100, 200],
        [7, 50, 250],
      ],
    );
    assert.equal(Object.keys(plan.versions.at(-1)?.definition.nodes ?? {}).length, 251);
    assert.deepEqual(plan.heads, [{ workflowId: 'w', latestVersion: 7, appliedThroughSeq: 250 }]);
    assert.equal(plan.decisions.length, 250);
    assert.equal(plan.decisions[150]?.version, 6);
  });

  it('makes no version for a chunk whose patches were all rejected, but moves past them', () => {
    const bad: StoredPatch = { id: 'bad', workflowId: 'w', seq: 8, ops: [{ op: 'remove', path: '/nodes/missing' }] };
    const plan = planVersions([head('w', 7, 3)], [bad], 100, {});
    assert.deepEqual(plan.versions, []);
    assert.deepEqual(plan.events, []);
    assert.deepEqual(plan.heads, [{ workflowId: 'w', latestVersion: 3, appliedThroughSeq: 8 }]);
    assert.equal(plan.decisions[0]?.status, 'rejected');
  });

  it('keeps workflows apart and leaves those without pending patches untouched', () => {
    const plan = planVersions(
      [head('x'), head('y'), head('z')],
      [addNode('x', 1), addNode('z', 1), addNode('z', 2)],
      100,
      {},
    );
    assert.deepEqual(
      plan.heads.map((h) => [h.workflowId, h.latestVersion, h.appliedThroughSeq]),
      [
        ['x', 2, 1],
        ['z', 2, 2],
      ],
    );
    assert.deepEqual(
      plan.events.map((e) => [e.head.id, e.applied]),
      [
        ['x', ['x-1']],
        ['z', ['z-1', 'z-2']],
      ],
    );
  });
});
