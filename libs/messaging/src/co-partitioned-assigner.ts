import { AssignerProtocol, type PartitionAssigner } from '#libs/kafka';

/**
 * The transaction group of a partition number: groups are owned whole, so one transaction can cover a group. `groups`
 * 0 means one group per partition.
 */
export function transactionGroupOf(partition: number, groups: number): number {
  return groups > 0 ? partition % groups : partition;
}

/**
 * Gives every member the same partition numbers of every topic it reads (DESIGN §2, "one owner per key"): the
 * coordinator reads run.requested, node.completed and run.control, all keyed by run id over one partition count, so
 * partition p of each holds the same runs and must go to one member. kafkajs' round-robin assigner deals topic
 * partitions out one by one and would split a run's request and completions between two coordinators.
 *
 * The numbers are dealt out in transaction groups (partition p is in group p mod `groups`), each to one member
 * whole: a coordinator writes a group's batches in one Kafka transaction, so no group may have two owners. With
 * `groups` 0, or as many as partitions or more, every partition is a group of its own.
 */
export function coPartitionedAssignment(
  memberIds: readonly string[],
  partitionsByTopic: Readonly<Record<string, readonly number[]>>,
  groups = 0,
): Record<string, Record<string, number[]>> {
  const members = [...memberIds].sort();
  const numbers = [...new Set(Object.values(partitionsByTopic).flat())].sort((a, b) => a - b);
  const groupKeys = [...new Set(numbers.map((p) => transactionGroupOf(p, groups)))].sort((a, b) => a - b);
  const ownerOfGroup = new Map(groupKeys.map((g, i) => [g, members[i % members.length] as string]));
  const assignment: Record<string, Record<string, number[]>> = Object.fromEntries(members.map((m) => [m, {}]));
  for (const [topic, partitions] of Object.entries(partitionsByTopic)) {
    for (const p of [...partitions].sort((a, b) => a - b)) {
      const owner = assignment[ownerOfGroup.get(transactionGroupOf(p, groups)) as string] as Record<string, number[]>;
      (owner[topic] ??= []).push(p);
    }
  }
  return assignment;
}

/** Two coordinators grouping partitions differently would write one partition under two transactional ids. */
export class TransactionGroupsDisagree extends Error {
  override readonly name = 'TransactionGroupsDisagree';
}

const encodeGroups = (groups: number) => {
  const data = Buffer.alloc(4);
  data.writeUInt32BE(groups);
  return data;
};

/**
 * The assigner of `coPartitionedAssignment`, `groups` transaction groups. Each member announces its number of groups
 * in its join metadata and the group's leader refuses to assign while members disagree (the join fails, loudly,
 * until they are restarted with one value): members that group differently would fence each other's producers or,
 * worse, write one partition under two transactional ids.
 */
export function coPartitionedAssigner(groups: number): PartitionAssigner {
  return ({ cluster }) => ({
    name: 'CoPartitionedAssigner',
    version: 1,
    assign({ members, topics }) {
      const partitions = Object.fromEntries(
        topics.map((topic) => [topic, cluster.findTopicPartitionMetadata(topic).map((m) => m.partitionId)]),
      );
      // Grouping only matters up to the partition count: beyond it every partition is a group of its own, as it was
      // for members from before groups (they announce nothing).
      const count = Math.max(0, ...Object.values(partitions).map((ps) => ps.length));
      const effective = (n: number | undefined) => (n ? Math.min(n, count) : count);
      const announced = members.map((m) => {
        const userData = AssignerProtocol.MemberMetadata.decode(m.memberMetadata)?.userData;
        return userData && userData.length >= 4 ? userData.readUInt32BE(0) : undefined;
      });
      if (announced.some((n) => effective(n) !== effective(groups))) {
        return Promise.reject(
          new TransactionGroupsDisagree(
            `coordinators disagree on COORDINATOR_PARTITION_GROUPS (this leader: ${groups}; members: ${announced
              .map((n) => n || 'one per partition')
              .join(', ')}): restart them all with one value`,
          ),
        );
      }
      const assignment = coPartitionedAssignment(
        members.map((m) => m.memberId),
        partitions,
        groups,
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
        metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: encodeGroups(groups) }),
      };
    },
  });
}
