import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describePlan, planTopicChanges, type ExistingTopic } from './topic-plan.js';
import { topicCatalog, topicConfigEntries, type TopicSpec } from './topics.js';

const catalog = (partitions = 6): TopicSpec[] => topicCatalog({ prefix: 'p.', partitions, replicationFactor: 1 });

/** The broker state that applying `specs` exactly would leave. */
const asApplied = (specs: TopicSpec[], change: (t: ExistingTopic) => ExistingTopic = (t) => t) =>
  new Map(
    specs.map((s) => [
      s.name,
      change({
        name: s.name,
        partitions: s.partitions,
        replicationFactor: s.replicationFactor,
        configs: topicConfigEntries(s),
      }),
    ]),
  );

describe('topic catalog', () => {
  it('declares every topic of DESIGN §2 and a dead-letter topic for each', () => {
    const names = catalog().map((t) => t.logicalName);
    for (const name of ['patch.created', 'workflow.materialized', 'run.requested', 'node.completed', 'run.events']) {
      assert.ok(names.includes(name), name);
      assert.ok(names.includes(`${name}.dlq`), `${name}.dlq`);
    }
    for (const type of ['function', 'http_request', 'agent', 'hitl', 'delay']) {
      assert.ok(names.includes(`node.dispatch.${type}`), type);
    }
    assert.equal(new Set(names).size, names.length, 'names are unique');
  });

  it('co-partitions everything the coordinator reads by run id', () => {
    const byName = new Map(catalog(9).map((t) => [t.logicalName, t]));
    assert.equal(byName.get('run.requested')?.partitions, byName.get('node.completed')?.partitions);
    assert.equal(byName.get('run.requested')?.key, 'run id');
    assert.equal(byName.get('node.completed')?.key, 'run id');
  });

  it('prefixes names but keeps logical names', () => {
    const spec = catalog().find((t) => t.logicalName === 'patch.created');
    assert.equal(spec?.name, 'p.patch.created');
  });
});

describe('planTopicChanges', () => {
  it('creates what is missing', () => {
    const plan = planTopicChanges(catalog(), new Map());
    assert.equal(plan.refusals.length, 0);
    assert.ok(plan.actions.every((a) => a.kind === 'create'));
  });

  it('is a no-op when the broker matches the catalog', () => {
    const specs = catalog();
    const plan = planTopicChanges(specs, asApplied(specs));
    assert.deepEqual(
      plan.actions.map((a) => a.kind),
      specs.map(() => 'unchanged'),
    );
  });

  it('grows partitions', () => {
    const plan = planTopicChanges(catalog(8), asApplied(catalog(6)));
    assert.equal(plan.refusals.length, 0);
    const grow = plan.actions.find((a) => a.kind === 'add-partitions');
    assert.deepEqual(grow && { from: grow.from, to: grow.to }, { from: 6, to: 8 });
  });

  it('refuses to shrink partitions, with the reason', () => {
    const plan = planTopicChanges(catalog(3), asApplied(catalog(6)));
    assert.equal(plan.refusals.length, catalog().length);
    assert.match(
      plan.refusals[0]?.reason ?? '',
      /has 6 partitions and the catalog says 3: Kafka cannot remove partitions/,
    );
    assert.match(describePlan(plan).join('\n'), /^REFUSED p\.patch\.created: /m);
  });

  it('refuses a replication factor change, a cleanup policy change and a shorter retention', () => {
    const specs = catalog();
    const plan = planTopicChanges(
      specs,
      asApplied(specs, (t) =>
        t.name === 'p.patch.created'
          ? { ...t, replicationFactor: 3 }
          : t.name === 'p.run.events'
            ? { ...t, configs: { ...t.configs, 'cleanup.policy': 'compact' } }
            : t.name === 'p.node.completed'
              ? { ...t, configs: { ...t.configs, 'retention.ms': String(30 * 86_400_000) } }
              : t,
      ),
    );
    const reasons = new Map(plan.refusals.map((r) => [r.topic, r.reason]));
    assert.match(reasons.get('p.patch.created') ?? '', /replication factor 3/);
    assert.match(reasons.get('p.run.events') ?? '', /cleanup.policy=compact/);
    assert.match(reasons.get('p.node.completed') ?? '', /shorter retention deletes/);
    assert.equal(plan.refusals.length, 3);
  });

  it('applies safe config changes (compression, longer retention)', () => {
    const specs = catalog();
    const plan = planTopicChanges(
      specs,
      asApplied(specs, (t) =>
        t.name === 'p.run.requested'
          ? { ...t, configs: { ...t.configs, 'compression.type': 'producer', 'retention.ms': '1000' } }
          : t,
      ),
    );
    assert.equal(plan.refusals.length, 0);
    const alter = plan.actions.find((a) => a.kind === 'alter-config');
    assert.equal(alter?.spec.name, 'p.run.requested');
    assert.deepEqual(alter?.kind === 'alter-config' && alter.changes.map((c) => c.key).sort(), [
      'compression.type',
      'retention.ms',
    ]);
  });
});
