import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { AppConfig } from '#libs/config';
import { createPool, type Pool } from '#libs/db';
import { createKafka, openProducer, type Kafka, type Producer, type Transaction } from '#libs/kafka';
import { PartitionLost } from '#libs/messaging';
import { apiRole } from '#apps/api/src/api.role.js';
import { outboxRelayRole } from '#apps/outbox-relay/src/outbox-relay.role.js';
import { runProjectorRole } from '#apps/run-projector/src/run-projector.role.js';
import { workerRole } from '#apps/worker/src/worker.role.js';
import { useTestContext } from '#test/harness/test-context.js';
import { createTopics, eventually, startRoles, type TestApp } from '#test/support/app.js';
import { createWorkflow, partitionOf, runEventAnomalies, startRun, waitForRun } from '#test/support/runs.js';
import { readTopics, type TopicReader } from '#test/support/topic-reader.js';
import { coordinatorRole } from './coordinator.role.js';
import { CoordinatorService } from './coordinator.service.js';
import { isFenced } from './run-partitions.js';

/**
 * Zombie fencing without KIP-447: every transaction group of input partitions has the transactional id of its lowest
 * partition, and whoever owns the group opens a producer with it. A coordinator that lost a group (a pause past its
 * session, a rebalance it has not noticed) can then neither commit a transaction it had open nor start a new one, so
 * nothing it decides after the hand-over reaches the topics, and the runs of the group move on once the consumer
 * group settles, each step once. Here both partitions are one transaction group.
 */
const PARTITIONS = 2;
const ctx = useTestContext('run-fencing', { partitions: PARTITIONS });
const fn = (expression: string) => ({ type: 'function', config: { expression } });

describe('a coordinator whose partition was taken over (zombie fencing)', () => {
  const config: AppConfig = { ...ctx.config, CONSUMER_SESSION_TIMEOUT_MS: 6_000, COORDINATOR_PARTITION_GROUPS: 1 };
  const topic = (logical: string) => `${ctx.topicPrefix}${logical}`;
  let api: TestApp;
  let zombie: TestApp;
  let kafka: Kafka;
  let pool: Pool;
  let reader: TopicReader;
  /** An open transaction of partition 1's own id, as a coordinator with one group per partition left it. */
  let stale: Transaction;

  before(async () => {
    await createTopics(ctx);
    kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: `${ctx.id}-test`, logger: ctx.logger });
    stale = await (await takeOver(1)).transaction();
    await stale.send({ topic: topic('run.events'), messages: [{ key: 'stale', value: 'of the old grouping' }] });
    api = await startRoles(ctx, [apiRole, outboxRelayRole, runProjectorRole, workerRole], config);
    zombie = await startRoles(ctx, [coordinatorRole], config);
    pool = createPool(ctx.databaseUrl, { name: 'run-fencing-test' });
    ctx.defer(() => pool.end());
    reader = await readTopics(kafka, [topic('run.events')], ctx.group('reader'));
    ctx.defer(() => reader.stop());
  });

  /** What the group's next owner does first: open a producer with its transactional id. */
  const takeOver = async (partition: number): Promise<Producer> => {
    const producer = openProducer(kafka, `new owner p${partition}`, {
      transactionalId: `${ctx.topicPrefix}coordinator-p${partition}`,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    ctx.defer(() => producer.disconnect());
    await producer.connect();
    const fence = await producer.transaction();
    await fence.abort();
    return producer;
  };

  const chain = () =>
    createWorkflow(api, {
      nodes: { a: fn('input.x'), b: fn('nodes.a + 1') },
      edges: [{ from: 'a', to: 'b' }],
    });

  /** Starts runs until one is keyed into the partition: all of them, that one last. */
  const runsUntil = async (workflowId: string, partition: number): Promise<string[]> => {
    const runIds: string[] = [];
    for (let i = 0; i < 50; i++) {
      runIds.push(await startRun(api, workflowId, { x: i }));
      if (partitionOf(runIds.at(-1) as string, PARTITIONS) === partition) return runIds;
    }
    throw new Error(`no run keyed into partition ${partition}`);
  };

  it('fences, on assignment, the ids of the partitions it owns that are not its group id (another grouping used them)', async () => {
    // The coordinator's assignment fenced the id of partition 1, which its group does not write with.
    await zombie.app.get(CoordinatorService).partitions.get(1);
    await assert.rejects(stale.commit(), (error: unknown) => isFenced(error));
  });

  it('refuses the open transaction of the old owner: what it sent is never read', async () => {
    const workflowId = await chain();
    // The coordinator owns every partition and is in business.
    await waitForRun(api, await startRun(api, workflowId, { x: 1 }));
    const coordinator = zombie.app.get(CoordinatorService);
    const owned = await coordinator.partitions.get(0);
    assert.equal(owned, await coordinator.partitions.get(1), 'one group holds both partitions');
    const open = await owned.producer.transaction();
    await open.send({ topic: topic('run.events'), messages: [{ key: 'zombie', value: 'sent before the take-over' }] });

    const newOwner = await takeOver(0);
    await assert.rejects(open.commit(), (error: unknown) => isFenced(error));
    // A committed message after it: once the reader has it, it has read past the place of the zombie's.
    const later = await newOwner.transaction();
    await later.send({ topic: topic('run.events'), messages: [{ key: 'after', value: 'committed by the new owner' }] });
    await later.commit();
    await reader.until((messages) => messages.some((m) => m.key === 'after'), 15_000);
    assert.equal(reader.messages.filter((m) => m.key === 'zombie').length, 0, 'the aborted send stays invisible');
    // The coordinator opens its group anew (what it does after a failed commit), fencing the test's producer in turn:
    // the next test starts from an owner in business.
    coordinator.partitions.recover(owned);
    assert.notEqual(await coordinator.partitions.get(0), owned, 'a new producer');
    await waitForRun(api, await startRun(api, workflowId, { x: 2 }));
  });

  it('leaves the batches of the lost group alone, and the run moves on, once, after the next rebalance', async () => {
    const workflowId = await chain();
    // The group's id is partition 0's: taking it over fences the writes of partition 1 too.
    await takeOver(0);
    const runIds = await runsUntil(workflowId, 1);
    const runId = runIds.at(-1) as string;
    // The fenced coordinator cannot commit anything for the group: its runs stay where the API left them. A request
    // is the group's first input since the take-over, so the coordinator marks the group lost on its batch.
    const coordinator = zombie.app.get(CoordinatorService);
    await eventually(
      () =>
        coordinator.partitions.get(1).then(
          () => undefined,
          (error: unknown) => {
            if (error instanceof PartitionLost) return true;
            throw error;
          },
        ),
      'the old owner to find the producer of the group of partition 1 fenced',
    );
    const stalled = await pool.query<{ status: string; event_seq: string }>(
      'SELECT DISTINCT status, event_seq FROM runs WHERE id = ANY($1::uuid[])',
      [runIds],
    );
    assert.deepEqual(stalled.rows, [{ status: 'pending', event_seq: '0' }], 'no run of either partition moved');
    assert.equal(reader.messages.filter((m) => runIds.includes(m.key)).length, 0, 'no run event reached Kafka');

    // A second coordinator joins: every member fences the partitions it now owns and restores them.
    await startRoles(ctx, [coordinatorRole], config);
    for (const id of runIds) {
      const run = await waitForRun(api, id, undefined, 30_000);
      assert.equal(run.status, 'completed');
      assert.deepEqual(run.output, { b: Number((run.nodes.a?.output as number) ?? NaN) + 1 });
      for (const node of Object.values(run.nodes)) assert.equal(node.attempts, 1);
    }
    assert.deepEqual(await runEventAnomalies(pool, runIds), []);
    await eventually(
      () => Promise.resolve(reader.messages.some((m) => m.key === runId) ? true : undefined),
      'its events on run.events',
    );
  });
});
