import type { GroupLag } from '#libs/kafka';

/** A group's lag as operators read it: the total, then per topic, then per partition. */
export interface GroupLagView {
  readonly group: string;
  readonly state: string;
  readonly members: number;
  readonly lag: number;
  readonly topics: {
    topic: string;
    lag: number;
    partitions: { partition: number; committedOffset: number | null; endOffset: number; lag: number }[];
  }[];
}

export function groupLagView(group: GroupLag): GroupLagView {
  const topics = new Map<string, GroupLagView['topics'][number]>();
  for (const p of group.partitions) {
    const topic = topics.get(p.topic) ?? { topic: p.topic, lag: 0, partitions: [] };
    topic.lag += p.lag;
    topic.partitions.push({
      partition: p.partition,
      committedOffset: p.committedOffset,
      endOffset: p.endOffset,
      lag: p.lag,
    });
    topics.set(p.topic, topic);
  }
  const sorted = [...topics.values()].sort((a, b) => a.topic.localeCompare(b.topic));
  for (const t of sorted) t.partitions.sort((a, b) => a.partition - b.partition);
  return {
    group: group.group,
    state: group.state,
    members: group.members,
    lag: sorted.reduce((sum, t) => sum + t.lag, 0),
    topics: sorted,
  };
}
