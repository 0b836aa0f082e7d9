import { topicConfigEntries, type TopicSpec } from './topics.js';

/** What the broker has for one topic (from describeTopics / describeConfigs). */
export interface ExistingTopic {
  readonly name: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly configs: Record<string, string>;
}

export type TopicAction =
  | { kind: 'create'; spec: TopicSpec }
  | { kind: 'add-partitions'; spec: TopicSpec; from: number; to: number }
  | { kind: 'alter-config'; spec: TopicSpec; changes: { key: string; from: string | undefined; to: string }[] }
  | { kind: 'unchanged'; spec: TopicSpec };

export interface Refusal {
  readonly topic: string;
  readonly reason: string;
}

export interface TopicPlan {
  readonly actions: TopicAction[];
  readonly refusals: Refusal[];
}

/**
 * Compares the catalog with the broker. Growing a topic is applied; anything that would lose data or cannot be done in
 * place (fewer partitions, another replication factor, another cleanup policy, a shorter retention) is refused with the reason, and the
 * whole plan is then not applied, so a half-applied catalog never results.
 */
export function planTopicChanges(desired: TopicSpec[], existing: Map<string, ExistingTopic>): TopicPlan {
  const actions: TopicAction[] = [];
  const refusals: Refusal[] = [];
  for (const spec of desired) {
    const current = existing.get(spec.name);
    if (!current) {
      actions.push({ kind: 'create', spec });
      continue;
    }
    let changed = false;
    if (spec.partitions < current.partitions) {
      refusals.push({
        topic: spec.name,
        reason: `has ${current.partitions} partitions and the catalog says ${spec.partitions}: Kafka cannot remove partitions (it would drop their data); recreate the topic by hand if that is really meant`,
      });
    } else if (spec.partitions > current.partitions) {
      actions.push({ kind: 'add-partitions', spec, from: current.partitions, to: spec.partitions });
      changed = true;
    }
    if (spec.replicationFactor !== current.replicationFactor) {
      refusals.push({
        topic: spec.name,
        reason: `has replication factor ${current.replicationFactor} and the catalog says ${spec.replicationFactor}: changing it needs a partition reassignment (kafka-reassign-partitions), not this command`,
      });
    }
    const configChanges = Object.entries(topicConfigEntries(spec))
      .filter(([key, value]) => current.configs[key] !== value)
      .map(([key, to]) => ({ key, from: current.configs[key], to }));
    const policy = configChanges.find((c) => c.key === 'cleanup.policy');
    if (policy) {
      refusals.push({
        topic: spec.name,
        reason: `has cleanup.policy=${policy.from ?? '(unset)'} and the catalog says ${policy.to}: switching policy deletes or keeps data differently; change it by hand after review`,
      });
    }
    const retention = configChanges.find((c) => c.key === 'retention.ms');
    const shorterRetention = retention?.from !== undefined && Number(retention.to) < Number(retention.from);
    if (retention && shorterRetention) {
      refusals.push({
        topic: spec.name,
        reason: `has retention.ms=${retention.from} and the catalog says ${retention.to}: a shorter retention deletes stored messages at once; lower it by hand (kafka-configs) after review`,
      });
    }
    const safeChanges = configChanges.filter(
      (c) => c.key !== 'cleanup.policy' && !(c === retention && shorterRetention),
    );
    if (safeChanges.length) {
      actions.push({ kind: 'alter-config', spec, changes: safeChanges });
      changed = true;
    }
    if (!changed) actions.push({ kind: 'unchanged', spec });
  }
  return { actions, refusals };
}

export function describePlan(plan: TopicPlan): string[] {
  const lines = plan.actions.map((action) => {
    switch (action.kind) {
      case 'create':
        return `create ${action.spec.name} (${action.spec.partitions} partitions, rf ${action.spec.replicationFactor})`;
      case 'add-partitions':
        return `grow ${action.spec.name} from ${action.from} to ${action.to} partitions (keys move to new partitions; ordering restarts from here)`;
      case 'alter-config':
        return `update ${action.spec.name}: ${action.changes.map((c) => `${c.key} ${c.from ?? '(unset)'} -> ${c.to}`).join(', ')}`;
      case 'unchanged':
        return `ok ${action.spec.name}`;
    }
  });
  return [...lines, ...plan.refusals.map((r) => `REFUSED ${r.topic}: ${r.reason}`)];
}
