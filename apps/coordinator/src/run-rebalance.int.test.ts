import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { AppConfig } from '#libs/config';
import { createPool, type Pool } from '#libs/db';
import type { EventCodec, NodeDispatch, RunEvent } from '#libs/events';
import { AssignerProtocol, createKafka, openAdmin, type Admin, type Kafka } from '#libs/kafka';
import { EVENT_CODEC } from '#libs/platform';
import { apiRole } from '#apps/api/src/api.role.js';
import { outboxRelayRole } from '#apps/outbox-relay/src/outbox-relay.role.js';
import { workerRole } from '#apps/worker/src/worker.role.js';
import { useTestContext } from '#test/harness/test-context.js';
import { createTopics, eventually, startRoles, type TestApp } from '#test/support/app.js';
import { changelogAnomalies } from '#test/support/faults/changelog-invariants.js';
import { createWorkflow, partitionOf, runEventAnomalies, startRun } from '#test/support/runs.js';
import { readTopics, type TopicReader } from '#test/support/topic-reader.js';
import { runProjectorRole } from '#apps/run-projector/src/run-projector.role.js';
import { coordinatorRole } from './coordinator.role.js';

/**
 * DESIGN §2 "one owner per key" and §3 invariants 3, 4 and 5 while coordinators come and go: every run completes with
 * one attempt per node, its event log is 1..n without gaps or duplicates, and run.events carries it in that order.
 * The 6 partitions are in 3 transaction groups ({0,3}, {1,4}, {2,5}), each handed over whole.
 */
const PARTITIONS = 6;
const GROUPS = 3;
const ctx = useTestContext('run-rebalance', { partitions: PARTITIONS });
const fn = (expression: string) => ({ type: 'function', config: { expression } });
const RUNS = 200;
const COORDINATOR_TOPICS = ['run.requested', 'node.completed', 'run.control'];

describe('runs through a coordinator rebalance', () => {
  const config: AppConfig = {
    ...ctx.config,
    CONSUMER_SESSION_TIMEOUT_MS: 6_000,
    CONSUMER_MAX_ATTEMPTS: 2,
    COORDINATOR_PARTITION_GROUPS: GROUPS,
  };
  const topic = (logical: string) => `${ctx.topicPrefix}${logical}`;
  let api: TestApp;
  let codec: EventCodec;
  let admin: Admin;
  let kafka: Kafka;
  let pool: Pool;
  let reader: TopicReader;

  before(async () => {
    await createTopics(ctx);
    api = await startRoles(ctx, [apiRole, outboxRelayRole, runProjectorRole, workerRole], config);
    codec = api.app.get<EventCodec>(EVENT_CODEC);
    kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: `${ctx.id}-test`, logger: ctx.logger });
    admin = openAdmin(kafka, 'run-rebalance-test');
    await admin.connect();
    ctx.defer(() => admin.disconnect());
    pool = createPool(ctx.databaseUrl, { name: 'run-rebalance-test' });
    ctx.defer(() => pool.end());
    reader = await readTopics(kafka, [topic('run.events'), topic('node.dispatch.function')], ctx.group('reader'));
    ctx.defer(() => reader.stop());
  });

  /** The coordinator group once it is stable with `members` members: each member's partitions by logical topic. */
  const stableAssignment = (members: number) =>
    eventually(
      async () => {
        const [group] = (await admin.describeGroups([ctx.group('coordinator')])).groups;
        if (group?.state !== 'Stable' || group.members.length !== members) return undefined;
        return group.members.map((m) => {
          const decoded = AssignerProtocol.MemberAssignment.decode(m.memberAssignment);
          const byTopic: Record<string, number[]> = {};
          for (const [name, partitions] of Object.entries(decoded?.assignment ?? {})) {
            byTopic[name.slice(ctx.topicPrefix.length)] = [...partitions].sort((a, b) => a - b);
          }
          return { member: m.memberId, byTopic };
        });
      },
      `a stable coordinator group of ${members}`,
      30_000,
    );

  /**
   * Every member holds the same partition numbers of the three topics, each number has exactly one owner, and so does
   * each transaction group.
   */
  const assertOneOwnerPerRun = (assignment: { member: string; byTopic: Record<string, number[]> }[]) => {
    const owners = new Map<number, string>();
    for (const { member, byTopic } of assignment) {
      const numbers = COORDINATOR_TOPICS.map((t) => JSON.stringify(byTopic[t] ?? []));
      assert.equal(new Set(numbers).size, 1, `${member} holds different partitions per topic: ${numbers.join(' ')}`);
      assert.ok((byTopic['run.requested'] ?? []).length > 0, `${member} owns nothing: ${JSON.stringify(assignment)}`);
      for (const p of byTopic['run.requested'] ?? []) {
        assert.equal(owners.get(p), undefined, `partition ${p} has two owners`);
        owners.set(p, member);
      }
    }
    assert.deepEqual(
      [...owners.keys()].sort((a, b) => a - b),
      Array.from({ length: PARTITIONS }, (_, i) => i),
      'every partition has an owner',
    );
    for (const [p, member] of owners) {
      assert.equal(owners.get(p % GROUPS), member, `partition ${p} is owned with the rest of its group`);
    }
  };

  const unfinished = async (runIds: readonly string[]) =>
    Number(
      (
        await pool.query<{ n: string }>(
          'SELECT count(*) AS n FROM runs WHERE id = ANY($1::uuid[]) AND finished_at IS NULL',
          [runIds],
        )
      ).rows[0]?.n,
    );

  const finished = async (runIds: readonly string[]) =>
    (
      await pool.query<{ id: string }>('SELECT id FROM runs WHERE id = ANY($1::uuid[]) AND finished_at IS NOT NULL', [
        runIds,
      ])
    ).rows.map((r) => r.id);

  const runToEnd = (runId: string) =>
    eventually(
      async () =>
        (
          await pool.query<{ status: string }>('SELECT status FROM runs WHERE id = $1 AND finished_at IS NOT NULL', [
            runId,
          ])
        ).rows[0]?.status,
      `run ${runId}`,
    );

  it('completes every run once while one coordinator leaves and another joins mid-load', async () => {
    const first = await startRoles(ctx, [coordinatorRole], config);
    await startRoles(ctx, [coordinatorRole], config);
    const initial = await stableAssignment(2);
    assertOneOwnerPerRun(initial);

    const workflowId = await createWorkflow(api, {
      nodes: { a: fn('input.x'), b: fn('nodes.a + 1'), c: fn('nodes.b * 10') },
      edges: [
        { from: 'a', to: 'b' },
        { from: 'b', to: 'c' },
      ],
    });
    // Warm up: the first run's path through relay, coordinators and worker is open before the load starts.
    assert.equal(await runToEnd(await startRun(api, workflowId, { x: 0 })), 'completed');

    const runIds: string[] = [];
    const submitting = (async () => {
      for (let i = 0; i < RUNS; i += 10) {
        runIds.push(
          ...(await Promise.all(Array.from({ length: 10 }, (_, k) => startRun(api, workflowId, { x: i + k })))),
        );
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
    })();
    const done = (at: number) =>
      eventually(async () => ((await finished(runIds)).length >= at ? true : undefined), `${at} runs to end`);

    // A clean leave in the middle of the load, once both coordinators have been completing runs of their partitions.
    await done(40);
    const owners = initial.map(({ byTopic }) => new Set(byTopic['run.requested']));
    const early = await finished(runIds);
    assert.ok(
      owners.every((partitions) => early.some((id) => partitions.has(partitionOf(id, PARTITIONS)))),
      'both coordinators completed runs before the leave',
    );
    await first.app.close();
    assertOneOwnerPerRun(await stableAssignment(1));
    const afterLeave = await finished(runIds);
    // A third coordinator joins while runs are still flowing (through the first one alone meanwhile).
    await done(Math.min(afterLeave.length + 10, RUNS));
    await startRoles(ctx, [coordinatorRole], config);
    const atJoin = await finished(runIds);
    assert.ok(atJoin.length < RUNS, `runs in flight at the join (${atJoin.length} of ${RUNS} ended)`);
    await submitting;

    await eventually(async () => ((await unfinished(runIds)) === 0 ? true : undefined), 'every run to end', 40_000);
    // The second and third coordinator now share the partitions, again one owner per partition number.
    assertOneOwnerPerRun(await stableAssignment(2));

    const { rows } = await pool.query<{
      id: string;
      status: string;
      input: { x: number };
      output: unknown;
      nodes: Record<string, { status: string; attempts: number }>;
    }>('SELECT id, status, input, output, nodes FROM runs WHERE id = ANY($1::uuid[])', [runIds]);
    assert.equal(rows.length, RUNS);
    for (const run of rows) {
      assert.equal(run.status, 'completed', JSON.stringify(run));
      assert.deepEqual(run.output, { c: (run.input.x + 1) * 10 });
      for (const [nodeId, node] of Object.entries(run.nodes)) {
        assert.deepEqual([node.status, node.attempts], ['succeeded', 1], `run ${run.id} node ${nodeId}`);
      }
    }
    assert.deepEqual(await runEventAnomalies(pool, runIds), []);
    // The changelog, which the projection forgives: each transition written once, in order, across the hand-overs.
    assert.deepEqual(
      await changelogAnomalies(kafka, { prefix: ctx.topicPrefix, registryUrl: config.SCHEMA_REGISTRY_URL, runIds }),
      [],
    );

    // run.events carries each run's events in seq order, 1..n, once each; each task was published once.
    const { rows: seqs } = await pool.query<{ id: string; event_seq: string }>(
      'SELECT id, event_seq FROM runs WHERE id = ANY($1::uuid[])',
      [runIds],
    );
    const expected = new Map(seqs.map((r) => [r.id, Number(r.event_seq)]));
    const total = [...expected.values()].reduce((a, b) => a + b, 0);
    const wanted = new Set(runIds);
    const eventsTopic = topic('run.events');
    await reader.until((messages) => {
      const ours = messages.filter((m) => wanted.has(m.key));
      return ours.filter((m) => m.topic === eventsTopic).length >= total && ours.length >= total + RUNS * 3;
    }, 20_000);
    const perRun = new Map<string, number[]>();
    const dispatched = new Map<string, number>();
    for (const m of reader.messages) {
      if (!wanted.has(m.key)) continue;
      if (m.topic === eventsTopic) {
        const event = (await codec.decode(m.value)) as RunEvent;
        assert.equal(event.runId, m.key, 'keyed by its run');
        perRun.set(m.key, [...(perRun.get(m.key) ?? []), Number(event.seq)]);
      } else {
        const task = (await codec.decode(m.value)) as NodeDispatch;
        const id = `${task.runId}/${task.nodeId}/${task.attempt}`;
        dispatched.set(id, (dispatched.get(id) ?? 0) + 1);
      }
    }
    const outOfOrder = runIds.filter((id) => {
      const got = perRun.get(id) ?? [];
      return JSON.stringify(got) !== JSON.stringify(Array.from({ length: expected.get(id) ?? 0 }, (_, i) => i + 1));
    });
    assert.deepEqual(
      outOfOrder.map((id) => `${id}: ${JSON.stringify(perRun.get(id))}`),
      [],
      'seqs on run.events per run key',
    );
    assert.equal(dispatched.size, RUNS * 3, 'every task published');
    assert.deepEqual(
      [...dispatched].filter(([, n]) => n > 1),
      [],
      'no task published twice',
    );
  });
});
