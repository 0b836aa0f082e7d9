import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { freePort, startProcess, waitForHttpOk } from '#test/support/processes.js';
import { useTestContext } from '#test/harness/test-context.js';
import { createTopics } from '#test/support/app.js';

const ctx = useTestContext('apps');

const APPS = ['api', 'outbox-relay', 'materializer', 'coordinator', 'run-projector', 'worker', 'fanout', 'all-in-one'];
const ROLES = ['api', 'outbox-relay', 'materializer', 'coordinator', 'run-projector', 'worker', 'fanout'];

describe('every app is a real NestJS process with /health and /metrics', () => {
  // The consuming roles subscribe at start, so their topics must exist (as `npm start` makes sure).
  before(() => createTopics(ctx));
  for (const app of APPS) {
    it(`${app} starts, reports healthy, exposes metrics and stops cleanly on SIGTERM`, async () => {
      const port = await freePort();
      const proc = startProcess(process.execPath, [`dist/apps/${app}/src/main.js`], {
        ...process.env,
        PORT: String(port),
        DATABASE_URL: ctx.databaseUrl,
        KAFKA_TOPIC_PREFIX: ctx.topicPrefix,
      });
      ctx.defer(() => proc.stop('SIGKILL'));

      const health = (await (await waitForHttpOk(`http://127.0.0.1:${port}/health`, proc)).json()) as {
        roles: string[];
      };
      assert.deepEqual(health.roles, app === 'all-in-one' ? ROLES : [app]);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      for (const role of health.roles) assert.match(metrics, new RegExp(`orchestrator_role_up\\{role="${role}"`));
      assert.match(metrics, /^process_resident_memory_bytes\{/m);

      assert.equal(await proc.stop('SIGTERM'), 0, proc.output());
      const logLines = proc
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{'));
      assert.ok(logLines.length > 0, 'logs are JSON lines');
      assert.ok(logLines.some((line) => (JSON.parse(line) as { msg: string }).msg === 'ready'));
    });
  }

  it('stops promptly on SIGTERM while keep-alive clients have requests in flight', async () => {
    const port = await freePort();
    const proc = startProcess(process.execPath, ['dist/apps/api/src/main.js'], {
      ...process.env,
      PORT: String(port),
      DATABASE_URL: ctx.databaseUrl,
      SHUTDOWN_TIMEOUT_MS: '8000',
    });
    ctx.defer(() => proc.stop('SIGKILL'));
    await waitForHttpOk(`http://127.0.0.1:${port}/health`, proc);
    const inFlight = [1, 2, 3].map(() =>
      fetch(`http://127.0.0.1:${port}/health`)
        .then((r) => r.text())
        .catch(() => ''),
    );
    await new Promise((resolve) => setTimeout(resolve, 3));
    const started = Date.now();
    process.kill(proc.child.pid as number, 'SIGTERM');
    await Promise.all(inFlight);
    assert.equal(await proc.exited(), 0, proc.output());
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
  });

  it('refuses to start with bad configuration, naming every bad variable at once', async () => {
    const proc = startProcess(process.execPath, ['dist/apps/api/src/main.js'], {
      ...process.env,
      PORT: 'eighty',
      KAFKA_BROKERS: 'kafka-without-port',
      REDIS_URL: 'http://127.0.0.1:6379',
      DATABASE_POOL_MAX: '0',
    });
    ctx.defer(() => proc.stop('SIGKILL'));
    assert.equal(await proc.exited(), 1);
    const output = proc.output();
    assert.match(output, /Invalid configuration \(4 bad variables\)/);
    for (const variable of ['PORT', 'KAFKA_BROKERS', 'REDIS_URL', 'DATABASE_POOL_MAX']) {
      assert.match(output, new RegExp(`^ {2}${variable}: `, 'm'));
    }
    assert.doesNotMatch(output, /"msg":"ready"/);
  });
});
