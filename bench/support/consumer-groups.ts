import { openAdmin, readConsumerLag, type Kafka } from '#libs/kafka';

export interface GroupExpectation {
  readonly group: string;
  readonly members: number;
}

export interface GroupState {
  readonly group: string;
  readonly state: string;
  readonly members: number;
  readonly lag: number;
  /** Partitions with a lag above one record. */
  readonly lagging: number;
}

/**
 * A consumer's committed offset stops before the commit marker of a producer's transaction (a record of its own in the
 * log that no consumer is given), so a partition written by transactions keeps a lag of one when fully consumed.
 */
const MARKER_LAG = 1;

/** Each group's state, member count and lag (summed over its topics and partitions). */
export async function groupStates(kafka: Kafka, groups: readonly string[]): Promise<GroupState[]> {
  const admin = openAdmin(kafka, 'bench-groups');
  await admin.connect();
  try {
    const lags = await readConsumerLag(admin, { groups });
    return groups.map((group) => {
      const found = lags.find((g) => g.group === group);
      const partitions = found?.partitions ?? [];
      return {
        group,
        state: found?.state ?? 'absent',
        members: found?.members ?? 0,
        lag: partitions.reduce((sum, p) => sum + p.lag, 0),
        lagging: partitions.filter((p) => p.lag > MARKER_LAG).length,
      };
    });
  } finally {
    await admin.disconnect();
  }
}

/**
 * Waits until every group is Stable with the expected number of members and nothing left to consume (no partition
 * lagging by more than a commit marker), twice in a row a poll apart, so a rebalance under way is not taken for the
 * end of one. Throws with the last states when that takes longer than `timeoutMs`.
 */
export async function waitForStableGroups(
  kafka: Kafka,
  expected: readonly GroupExpectation[],
  timeoutMs: number,
  options: { readonly drained?: boolean } = {},
): Promise<GroupState[]> {
  const drained = options.drained ?? true;
  const deadline = performance.now() + timeoutMs;
  let settledOnce = false;
  for (;;) {
    const states = await groupStates(
      kafka,
      expected.map((e) => e.group),
    );
    const settled = expected.every((e, i) => {
      const state = states[i] as GroupState;
      return state.state === 'Stable' && state.members === e.members && (!drained || state.lagging === 0);
    });
    if (settled && settledOnce) return states;
    settledOnce = settled;
    if (performance.now() > deadline) {
      throw new Error(
        `consumer groups not stable after ${timeoutMs} ms: ${states
          .map((s, i) => `${s.group} ${s.state}, ${s.members}/${expected[i]?.members} members, lag ${s.lag}`)
          .join('; ')}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** The member ids of each group, sorted: the same set before and after a window means no member left or joined. */
export async function groupMembers(kafka: Kafka, groups: readonly string[]): Promise<string[][]> {
  const admin = openAdmin(kafka, 'bench-members');
  await admin.connect();
  try {
    const described = await admin.describeGroups([...groups]);
    return groups.map((group) =>
      (described.groups.find((g) => g.groupId === group)?.members ?? []).map((m) => m.memberId).sort(),
    );
  } finally {
    await admin.disconnect();
  }
}
