import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { coPartitionedAssignment } from './co-partitioned-assigner.js';

const topics = {
  'run.requested': [0, 1, 2, 3, 4, 5],
  'node.completed': [0, 1, 2, 3, 4, 5],
  'run.control': [0, 1, 2, 3, 4, 5],
};

describe('co-partitioned assignment', () => {
  it('gives each member the same partition numbers of every topic', () => {
    const assignment = coPartitionedAssignment(['m-b', 'm-a', 'm-c'], topics);
    for (const byTopic of Object.values(assignment)) {
      const sets = Object.values(byTopic).map((ps) => JSON.stringify(ps));
      assert.equal(new Set(sets).size, 1, `one set of numbers per member, got ${sets.join(' ')}`);
    }
    const owners = new Map<number, string>();
    for (const [member, byTopic] of Object.entries(assignment)) {
      for (const p of byTopic['run.requested'] ?? []) {
        assert.equal(owners.has(p), false, `partition ${p} has two owners`);
        owners.set(p, member);
      }
    }
    assert.equal(owners.size, 6, 'every partition is owned');
    assert.deepEqual(
      Object.values(assignment).map((t) => t['node.completed']?.length),
      [2, 2, 2],
      'balanced',
    );
  });

  it('is the same whatever order members join in, and covers every partition with one member', () => {
    assert.deepEqual(coPartitionedAssignment(['x', 'y'], topics), coPartitionedAssignment(['y', 'x'], topics));
    assert.deepEqual(coPartitionedAssignment(['solo'], topics), { solo: topics });
  });
});
