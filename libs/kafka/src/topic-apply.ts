import { ConfigResourceTypes, type Admin, type ITopicConfig } from './kafkajs.js';
import { planTopicChanges, type ExistingTopic, type TopicPlan } from './topic-plan.js';
import { topicConfigEntries, type TopicSpec } from './topics.js';

export class TopicChangeRefused extends Error {
  override readonly name = 'TopicChangeRefused';
  constructor(readonly plan: TopicPlan) {
    super(
      `Refused ${plan.refusals.length} destructive topic change(s); nothing was applied:\n` +
        plan.refusals.map((r) => `  ${r.topic}: ${r.reason}`).join('\n'),
    );
  }
}

/** What the broker has for the catalog's topics. */
export async function readExistingTopics(admin: Admin, specs: TopicSpec[]): Promise<Map<string, ExistingTopic>> {
  const present = new Set(await admin.listTopics());
  const names = specs.map((s) => s.name).filter((n) => present.has(n));
  const existing = new Map<string, ExistingTopic>();
  if (!names.length) return existing;
  const [metadata, configs] = await Promise.all([
    admin.fetchTopicMetadata({ topics: names }),
    admin.describeConfigs({
      includeSynonyms: false,
      resources: names.map((name) => ({ type: ConfigResourceTypes.TOPIC, name })),
    }),
  ]);
  const configsByTopic = new Map(
    configs.resources.map((r) => [
      r.resourceName,
      Object.fromEntries(r.configEntries.map((e) => [e.configName, e.configValue])),
    ]),
  );
  for (const topic of metadata.topics) {
    existing.set(topic.name, {
      name: topic.name,
      partitions: topic.partitions.length,
      replicationFactor: topic.partitions[0]?.replicas.length ?? 0,
      configs: configsByTopic.get(topic.name) ?? {},
    });
  }
  return existing;
}

const configEntries = (spec: TopicSpec) =>
  Object.entries(topicConfigEntries(spec)).map(([name, value]) => ({ name, value }));

/**
 * Brings the broker in line with the catalog. Idempotent: a second run finds every topic `unchanged`.
 * Throws TopicChangeRefused, before changing anything, if any part of the plan would destroy data.
 */
/** How long to wait for new partitions to have answering leaders (a broker short of CPU can take many seconds). */
export interface TopicReadiness {
  readyTimeoutMs?: number;
}

export async function applyTopics(
  admin: Admin,
  specs: TopicSpec[],
  { readyTimeoutMs }: TopicReadiness = {},
): Promise<TopicPlan> {
  const plan = planTopicChanges(specs, await readExistingTopics(admin, specs));
  if (plan.refusals.length) throw new TopicChangeRefused(plan);

  const creates = plan.actions.flatMap((a) => (a.kind === 'create' ? [a.spec] : []));
  if (creates.length) {
    await createTopicsAndWait(
      admin,
      creates.map((spec) => ({
        topic: spec.name,
        numPartitions: spec.partitions,
        replicationFactor: spec.replicationFactor,
        configEntries: configEntries(spec),
      })),
      { readyTimeoutMs },
    );
  }
  const grows = plan.actions.flatMap((a) => (a.kind === 'add-partitions' ? [a] : []));
  if (grows.length) {
    await admin.createPartitions({ topicPartitions: grows.map((a) => ({ topic: a.spec.name, count: a.to })) });
    await waitForPartitions(admin, new Map(grows.map((a) => [a.spec.name, a.to])), readyTimeoutMs);
  }
  const alters = plan.actions.flatMap((a) => (a.kind === 'alter-config' ? [a.spec] : []));
  if (alters.length) {
    // AlterConfigs (kafkajs has no incremental variant) replaces a topic's whole override set, so every managed key
    // is sent each time; keys set by hand outside the catalog are reset to the broker default.
    await admin.alterConfigs({
      validateOnly: false,
      resources: alters.map((spec) => ({
        type: ConfigResourceTypes.TOPIC,
        name: spec.name,
        configEntries: configEntries(spec),
      })),
    });
  }
  return plan;
}

function onlyAlreadyExists(error: unknown): boolean {
  const nested = (error as { errors?: { type?: string }[] }).errors;
  const types = nested?.length ? nested.map((e) => e.type) : [(error as { type?: string }).type];
  return types.every((type) => type === 'TOPIC_ALREADY_EXISTS');
}

/**
 * kafkajs' own `waitForLeaders` gives up on UNKNOWN_TOPIC_OR_PARTITION, which a KRaft broker answers for a moment
 * after the controller created a topic, and a grown topic shows its old partition count for a moment too: so wait
 * here until the broker's metadata has every expected partition, each with a leader, and the leaders answer for
 * them (a leader named in the metadata can still answer NOT_LEADER_FOR_PARTITION until it applied the change).
 */
async function waitForPartitions(
  admin: Admin,
  expected: ReadonlyMap<string, number>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const topics = [...expected.keys()];
  let lastError: unknown;
  for (;;) {
    try {
      const { topics: found } = await admin.fetchTopicMetadata({ topics });
      const ready = found.every(
        (t) => t.partitions.length >= (expected.get(t.name) ?? 1) && t.partitions.every((p) => p.leader >= 0),
      );
      if (found.length === topics.length && ready) {
        await Promise.all(topics.map((topic) => admin.fetchTopicOffsets(topic)));
        return;
      }
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`topics not ready after ${timeoutMs} ms: ${topics.join(', ')}`, { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Creates topics (replication factor 1 unless given) and returns once every partition has a leader. */
export async function createTopicsAndWait(
  admin: Admin,
  topics: ITopicConfig[],
  { readyTimeoutMs }: TopicReadiness = {},
): Promise<void> {
  await admin
    .createTopics({
      waitForLeaders: false,
      timeout: 30_000,
      topics: topics.map((t) => ({ replicationFactor: 1, ...t })),
    })
    .catch((error: unknown) => {
      // A create that timed out on a busy broker is retried by kafkajs and then meets its own first attempt.
      if (!onlyAlreadyExists(error)) throw error;
    });
  await waitForPartitions(admin, new Map(topics.map((t) => [t.topic, t.numPartitions ?? 1])), readyTimeoutMs);
}

/** Removes the given topics if present (test clean-up). */
export async function deleteTopics(admin: Admin, names: string[]): Promise<void> {
  const present = new Set(await admin.listTopics());
  const topics = names.filter((n) => present.has(n));
  if (topics.length) await admin.deleteTopics({ topics, timeout: 30_000 });
}

/** Deletes every topic whose name starts with the prefix (a test's or a benchmark's private topics). */
export async function deleteTopicsWithPrefix(admin: Admin, prefix: string): Promise<void> {
  await deleteTopics(
    admin,
    (await admin.listTopics()).filter((t) => t.startsWith(prefix)),
  );
}

/**
 * Deletes every consumer group whose id starts with the prefix. A group keeps a member for a while after its process
 * died without leaving (until the session times out), so deleting is retried for up to `waitMs`.
 */
export async function deleteGroupsWithPrefix(admin: Admin, prefix: string, waitMs = 0): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(prefix));
    if (!groups.length) return;
    try {
      await admin.deleteGroups(groups);
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }
}
