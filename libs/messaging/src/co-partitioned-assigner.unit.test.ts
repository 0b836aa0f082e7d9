import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AssignerProtocol, type PartitionAssigner } from '#libs/kafka';
import {
  coPartitionedAssigner,
  coPartitionedAssignment,
  transactionGroupOf,
  TransactionGroupsDisagree,
} from './co-partitioned-assigner.js';

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

  it('deals transaction groups out whole: every partition of a group has one owner', () => {
    const assignment = coPartitionedAssignment(['m-b', 'm-a'], topics, 4);
    // Groups 0 (partitions 0, 4), 2 (2) to m-a; 1 (1, 5), 3 (3) to m-b.
    assert.deepEqual(assignment['m-a']?.['run.requested'], [0, 2, 4]);
    assert.deepEqual(assignment['m-b']?.['run.control'], [1, 3, 5]);
    for (let p = 0; p < 6; p++) {
      const owners = Object.entries(assignment).filter(([, t]) => t['node.completed']?.includes(p));
      const groupOwners = Object.entries(assignment).filter(([, t]) =>
        t['node.completed']?.some((q) => transactionGroupOf(q, 4) === transactionGroupOf(p, 4)),
      );
      assert.equal(owners.length, 1, `partition ${p} has one owner`);
      assert.deepEqual(groupOwners, owners, `the group of partition ${p} has the same one owner`);
    }
    // More members than groups: the spare ones own nothing (and take over when another leaves).
    const spare = coPartitionedAssignment(['a', 'b', 'c'], topics, 2);
    assert.deepEqual(spare['c'], {});
    // As many groups as partitions or more: one group per partition, as without groups.
    assert.deepEqual(coPartitionedAssignment(['x', 'y'], topics, 6), coPartitionedAssignment(['x', 'y'], topics));
    assert.deepEqual(coPartitionedAssignment(['x', 'y'], topics, 64), coPartitionedAssignment(['x', 'y'], topics));
    assert.deepEqual(coPartitionedAssignment(['x', 'y'], topics, 0), coPartitionedAssignment(['x', 'y'], topics, 6));
  });
});

describe('coPartitionedAssigner: members announce their transaction groups', () => {
  const cluster = { findTopicPartitionMetadata: () => [0, 1, 2, 3, 4, 5].map((partitionId) => ({ partitionId })) };
  const joined = (assigner: PartitionAssigner, memberId: string) => {
    const { metadata } = assigner({ cluster } as never).protocol({ topics: ['run.requested'] });
    return { memberId, memberMetadata: metadata };
  };
  const leader = (groups: number) => coPartitionedAssigner(groups)({ cluster } as never);

  it('assigns when every member groups alike', async () => {
    const members = [joined(coPartitionedAssigner(3), 'a'), joined(coPartitionedAssigner(3), 'b')];
    const assigned = await leader(3).assign({ members, topics: ['run.requested'] });
    const decoded = assigned.map((a) => AssignerProtocol.MemberAssignment.decode(a.memberAssignment)?.assignment);
    assert.deepEqual(decoded, [{ 'run.requested': [0, 2, 3, 5] }, { 'run.requested': [1, 4] }]);
  });

  it('refuses to assign while members disagree, and counts only up to the partition count', async () => {
    const members = [joined(coPartitionedAssigner(3), 'a'), joined(coPartitionedAssigner(2), 'b')];
    await assert.rejects(
      leader(3).assign({ members, topics: ['run.requested'] }),
      (error: unknown) => error instanceof TransactionGroupsDisagree && /disagree/.test(error.message),
    );
    // 6, 12 and 0 groups over 6 partitions all mean one group per partition; so does a member from before groups.
    const before = {
      memberId: 'old',
      memberMetadata: AssignerProtocol.MemberMetadata.encode({
        version: 0,
        topics: ['run.requested'],
        userData: Buffer.alloc(0),
      }),
    };
    const alike = [
      joined(coPartitionedAssigner(6), 'a'),
      joined(coPartitionedAssigner(12), 'b'),
      joined(coPartitionedAssigner(0), 'c'),
      before,
    ];
    assert.equal((await leader(0).assign({ members: alike, topics: ['run.requested'] })).length, 4);
  });
});
