import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { before, describe, it } from 'node:test';
import type { AppConfig } from '#libs/config';
import type { EventBatch } from '#libs/messaging';
import { createKafka, openAdmin, type Admin } from '#libs/kafka';
import { apiRole } from '#apps/api/src/api.role.js';
import { coordinatorRole } from '#apps/coordinator/src/coordinator.role.js';
import { outboxRelayRole } from '#apps/outbox-relay/src/outbox-relay.role.js';
import { workerRole } from '#apps/worker/src/worker.role.js';
import { useTestContext } from '#test/harness/test-context.js';
import { createTopics, eventually, startRoles, type TestApp } from '#test/support/app.js';
import { createWorkflow, startRun, waitForRun } from '#test/support/runs.js';
import { runProjectorRole } from './run-projector.role.js';
import { RunProjectorService } from './run-projector.service.js';

/**
 * The projector's handler returns before its write commits, so a failed write is learnt after the consumer moved on:
 * the partition is read again and projected. A record that fails every time must still reach the dead-letter topic
 * after CONSUMER_MAX_ATTEMPTS, not be read again forever: after a failure, handlers wait for their writes until one
 * succeeds.
 */
const ctx = useTestContext('projection-failures');
const fn = (expression: string) => ({ type: 'function', config: { expression } });

type Project = (batches: readonly EventBatch<'run.state'>[]) => Promise<void>;

describe('run projector: failed writes', () => {
  // The failures are on purpose: their warnings would only be noise here.
  const config: AppConfig = {
    ...ctx.config,
    CONSUMER_MAX_ATTEMPTS: 2,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ? ctx.config.LOG_LEVEL : 'fatal',
  };
  let api: TestApp;
  let admin: Admin;
  let poisonWorkflow = '';
  let failNext = false;
  const failures = { injected: 0, poison: 0 };

  before(async () => {
    await createTopics(ctx);
    api = await startRoles(ctx, [apiRole, outboxRelayRole, coordinatorRole, runProjectorRole, workerRole], config);
    const projector: { project: Project } = api.app.get<{ project: Project }>(RunProjectorService);
    const project = projector.project.bind(projector);
    projector.project = async (batches) => {
      if (batches.some((b) => b.messages.some((m) => m.value.workflowId === poisonWorkflow))) {
        failures.poison++;
        throw new Error('a record this projection cannot store');
      }
      if (failNext) {
        failNext = false;
        failures.injected++;
        throw new Error('the write failed once');
      }
      return project(batches);
    };
    admin = openAdmin(createKafka({ brokers: config.KAFKA_BROKERS, clientId: ctx.id, logger: ctx.logger }), 'test');
    await admin.connect();
    ctx.defer(() => admin.disconnect());
  });

  const workflow = () => createWorkflow(api, { nodes: { a: fn('input.x + 1') }, edges: [] });

  it('reads a batch whose write failed again, and projects it', async () => {
    const workflowId = await workflow();
    failNext = true;
    const run = await waitForRun(api, await startRun(api, workflowId, { x: 1 }), undefined, 30_000);
    assert.equal(run.status, 'completed');
    assert.deepEqual(run.output, { a: 2 });
    assert.equal(failures.injected, 1, 'a write failed');
  });

  it('dead-letters a record that keeps failing, and projects the others', async () => {
    poisonWorkflow = await workflow();
    const poisoned = await startRun(api, poisonWorkflow, { x: 1 });
    const dlq = `${ctx.topicPrefix}run.state.dlq`;
    await eventually(
      async () => ((await admin.fetchTopicOffsets(dlq)).some((p) => Number(p.high) > 0) ? true : undefined),
      'the poison records in run.state.dlq',
      30_000,
    );
    // Read again forever, the tries would never stop growing.
    await eventually(
      async () => {
        const tries = failures.poison;
        await sleep(1_000);
        return failures.poison === tries ? true : undefined;
      },
      'the poison records tried no more',
      30_000,
    );
    assert.ok(failures.poison >= 2, `each poison batch tried CONSUMER_MAX_ATTEMPTS times (${failures.poison} tries)`);
    const other = await waitForRun(api, await startRun(api, await workflow(), { x: 5 }), undefined, 30_000);
    assert.equal(other.status, 'completed');
    assert.deepEqual(other.output, { a: 6 });
    const stored = await api.request<{ status: string }>('GET', `/v1/runs/${poisoned}`);
    assert.notEqual(stored.body.status, 'completed', 'the dead-lettered transitions were not projected');
  });
});
