import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { before, describe, it } from 'node:test';
import type { AppConfig } from '#libs/config';
import { createPool, type Pool } from '#libs/db';
import type { Transaction } from '#libs/kafka';
import { PartitionLost } from '#libs/messaging';
import { TERMINAL_RUN_STATUSES } from '#libs/runs';
import { apiRole } from '#apps/api/src/api.role.js';
import { outboxRelayRole } from '#apps/outbox-relay/src/outbox-relay.role.js';
import { runProjectorRole } from '#apps/run-projector/src/run-projector.role.js';
import { workerRole } from '#apps/worker/src/worker.role.js';
import { useTestContext } from '#test/harness/test-context.js';
import { createTopics, eventually, startRoles, type TestApp } from '#test/support/app.js';
import { createWorkflow, readRun, runEventAnomalies, startRun } from '#test/support/runs.js';
import { coordinatorRole } from './coordinator.role.js';
import { CoordinatorService } from './coordinator.service.js';
import type { OwnedGroup } from './run-partitions.js';

/**
 * The coordinator applies a batch before its transaction commits and takes the next batches meanwhile. When a
 * transaction fails, everything applied since the last commit is void: the group is restored from the changelog, the
 * partitions are read again from their first batch not committed, and batches fetched before that rewind must not
 * overtake the ones read again. Here commits fail on purpose, each while later batches wait in the next transaction,
 * under a few hundred runs in flight; every run must still end once, right, with its events numbered 1..n.
 */
const PARTITIONS = 4;
const RUNS = 240;
const FAILURES = 3;
const ctx = useTestContext('pipelined-transactions', { partitions: PARTITIONS });
const fn = (expression: string) => ({ type: 'function', config: { expression } });

describe('a pipelined coordinator whose transactions fail', () => {
  const config: AppConfig = { ...ctx.config, COORDINATOR_PARTITION_GROUPS: 1 };
  let api: TestApp;
  let coordinator: CoordinatorService;
  let pool: Pool;
  let held: () => void = () => undefined;

  before(async () => {
    await createTopics(ctx);
    api = await startRoles(ctx, [apiRole, outboxRelayRole, runProjectorRole, workerRole], config);
    // The failures are on purpose: their warnings would only be noise here.
    const quiet: AppConfig = { ...config, LOG_LEVEL: process.env.TEST_LOG_LEVEL ? config.LOG_LEVEL : 'error' };
    coordinator = (await startRoles(ctx, [coordinatorRole], quiet)).app.get(CoordinatorService);
    pool = createPool(ctx.databaseUrl, { name: 'pipelined-transactions-test' });
    ctx.defer(() => pool.end());
  });

  /**
   * Makes the group's `nth` transaction fail at its commit, after holding it a while (`hold`) so that later batches
   * are applied and wait in the group's next transaction; resolves with how many messages waited there.
   */
  function failCommit(
    group: OwnedGroup,
    nth: number,
    hold: (transaction: Transaction) => Promise<unknown> = () => sleep(150),
  ): Promise<number> {
    return new Promise((resolve) => {
      const open = group.producer.transaction.bind(group.producer);
      let count = 0;
      group.producer.transaction = async (): Promise<Transaction> => {
        const transaction = await open();
        if (++count !== nth) return transaction;
        transaction.commit = async () => {
          held();
          await hold(transaction);
          resolve(group.filling?.messages.length ?? 0);
          await transaction.abort();
          throw new Error('commit failed on purpose');
        };
        return transaction;
      };
    });
  }

  /** Polled in Postgres, not per run over HTTP: hundreds of pollers would spend the API key's rate limit. */
  const allEnded = (runIds: readonly string[], what: string, timeoutMs: number) =>
    eventually(
      async () => {
        const { rows } = await pool.query<{ n: string }>(
          'SELECT count(*) AS n FROM runs WHERE id = ANY($1::uuid[]) AND status = ANY($2::text[])',
          [runIds, TERMINAL_RUN_STATUSES],
        );
        return Number(rows[0]?.n) === runIds.length ? true : undefined;
      },
      what,
      timeoutMs,
    );

  it('voids what was applied after the last commit, reads it again, and every run ends once, right', async () => {
    const workflowId = await createWorkflow(api, {
      nodes: { a: fn('input.x'), b: fn('nodes.a + 1'), c: fn('nodes.b * 2') },
      edges: [
        { from: 'a', to: 'b' },
        { from: 'b', to: 'c' },
      ],
    });
    const waiting: number[] = [];
    let stop = false;
    // Each group the coordinator opens (at first, and after every failure) fails one commit, until FAILURES did.
    const injecting = (async () => {
      let last: OwnedGroup | undefined;
      while (!stop && waiting.length < FAILURES) {
        const group = await coordinator.partitions.get(0).catch((error: unknown) => {
          if (error instanceof PartitionLost) return undefined;
          throw error;
        });
        if (group && group !== last) {
          last = group;
          waiting.push(await failCommit(group, 4));
        }
        await sleep(20);
      }
    })();
    const runIds = await Promise.all(Array.from({ length: RUNS }, (_, x) => startRun(api, workflowId, { x })));
    await allEnded(runIds, `all ${RUNS} runs ended`, 90_000);
    const runs = [];
    for (const id of runIds) runs.push(await readRun(api, id));
    stop = true;
    await injecting;

    assert.equal(waiting.length, FAILURES, 'every injected failure happened while runs were in flight');
    assert.ok(
      waiting.some((n) => n > 0),
      `batches were applied into the next transaction while a failing one committed (waiting: ${waiting.join(', ')})`,
    );
    for (const [x, run] of runs.entries()) {
      assert.equal(run.status, 'completed', `run ${run.id}`);
      assert.deepEqual(run.output, { c: (x + 1) * 2 });
      for (const node of Object.values(run.nodes))
        assert.equal(node.attempts, 1, `run ${run.id}: one attempt per node`);
    }
    assert.deepEqual(await runEventAnomalies(pool, runIds), [], 'events numbered 1..n per run, none twice');
    const tasks = await pool.query<{ n: string }>(
      "SELECT count(*) AS n FROM run_events WHERE run_id = ANY($1::uuid[]) AND kind = 'node.completed'",
      [runIds],
    );
    assert.equal(Number(tasks.rows[0]?.n), RUNS * 3, 'each node completed once in the projection');
  });
  /**
   * A transaction under way when the consumer group rebalances fails once the assignment closes its producer. The
   * rejoin already restarted the partitions at their committed offsets and the transport seeks nothing for it: were
   * its batches noted as a rewind, every later batch of a partition this coordinator keeps would be refused for good.
   */
  it('a transaction failing across a rebalance leaves the partitions it keeps moving', async () => {
    const workflowId = await createWorkflow(api, {
      nodes: { a: fn('input.x'), b: fn('nodes.a + 1') },
      edges: [{ from: 'a', to: 'b' }],
    });
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const holding = new Promise<void>((resolve) => (held = resolve));
    const group = await coordinator.partitions.get(0);
    let rejoined = 0;
    const assign = coordinator.assign.bind(coordinator);
    coordinator.assign = (assignment) => (rejoined++, assign(assignment));
    // The broker-side transaction ends at once, so the next owner's fencing need not wait; the commit fails later.
    const failed = failCommit(group, 2, async (transaction) => {
      await transaction.abort();
      await released;
    });
    const first = await Promise.all(Array.from({ length: 40 }, (_, x) => startRun(api, workflowId, { x })));
    await holding;
    // A second coordinator joins while the commit is held: with one transaction group it gets nothing, but both rejoin.
    const quiet: AppConfig = { ...config, LOG_LEVEL: process.env.TEST_LOG_LEVEL ? config.LOG_LEVEL : 'error' };
    await startRoles(ctx, [coordinatorRole], quiet);
    await eventually(() => Promise.resolve(rejoined > 0 ? true : undefined), 'the first coordinator rejoined', 30_000);
    // The group opened for the new assignment reads the partitions from their committed offsets and moves past the
    // held transaction's batches; only then does the old group's commit fail.
    await allEnded(first, 'the runs started before the rebalance ended', 60_000);
    release();
    await failed;
    const later = await Promise.all(Array.from({ length: 40 }, (_, x) => startRun(api, workflowId, { x: x + 40 })));
    const runIds = [...first, ...later];
    await allEnded(runIds, `all ${runIds.length} runs ended`, 60_000);
    for (const [x, id] of runIds.entries()) {
      const run = await readRun(api, id);
      assert.equal(run.status, 'completed', `run ${id}`);
      assert.deepEqual(run.output, { b: x + 1 });
    }
    assert.deepEqual(await runEventAnomalies(pool, runIds), []);
  });
});
