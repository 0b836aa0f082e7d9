import { AssignerProtocol, type PartitionAssigner } from '#libs/kafka';

/**
 * Gives every member the same partition numbers of every topic it reads (DESIGN §2, "one owner per key"): the
 * coordinator reads run.requested, node.completed and run.control, all keyed by run id over one partition count, so
 * partition p of each holds the same runs and must go to one member. kafkajs' round-robin assigner deals topic
 * partitions out one by one and would split a run's request and completions between two coordinators.
 */
export function coPartitionedAssignment(
  memberIds: readonly string[],
  partitionsByTopic: Readonly<Record<string, readonly number[]>>,
): Record<string, Record<string, number[]>> {
  const members = [...memberIds].sort();
  const numbers = [...new Set(Object.values(partitionsByTopic).flat())].sort((a, b) => a - b);
  const owner = new Map(numbers.map((p, i) => [p, members[i % members.length] as string]));
  const assignment: Record<string, Record<string, number[]>> = Object.fromEntries(members.map((m) => [m, {}]));
  for (const [topic, partitions] of Object.entries(partitionsByTopic)) {
    for (const p of [...partitions].sort((a, b) => a - b)) {
      const perTopic = (assignment[owner.get(p) as string] as Record<string, number[]>)[topic] ?? [];
      perTopic.push(p);
      (assignment[owner.get(p) as string] as Record<string, number[]>)[topic] = perTopic;
    }
  }
  return assignment;
}

export const CoPartitionedAssigner: PartitionAssigner = ({ cluster }) => ({
  name: 'CoPartitionedAssigner',
  version: 0,
  assign({ members, topics }) {
    const partitions = Object.fromEntries(
      topics.map((topic) => [topic, cluster.findTopicPartitionMetadata(topic).map((m) => m.partitionId)]),
    );
    const assignment = coPartitionedAssignment(
      members.map((m) => m.memberId),
      partitions,
    );
    return Promise.resolve(
      Object.entries(assignment).map(([memberId, byTopic]) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 0,
          assignment: byTopic,
          userData: Buffer.alloc(0),
        }),
      })),
    );
  },
  protocol({ topics }) {
    return {
      name: 'CoPartitionedAssigner',
      metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }),
    };
  },
});
