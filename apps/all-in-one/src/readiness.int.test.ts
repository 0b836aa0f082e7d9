import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { materializerRole } from '#apps/materializer/src/materializer.role.js';
import { createRolesApp, Readiness } from '#libs/platform';
import { useTestContext } from '#test/harness/test-context.js';
import { createTopics, eventually } from '#test/support/app.js';

const ctx = useTestContext('readiness');

describe('/livez and /readyz', () => {
  it('is ready once its consumer group has joined and until it drains; alive throughout', async () => {
    await createTopics(ctx);
    const app = await createRolesApp([materializerRole], ctx.config);
    ctx.defer(() => app.close());
    await app.init();
    const fastify = app.getHttpAdapter().getInstance();
    const probe = async (url: '/readyz' | '/livez') => {
      const response = await fastify.inject({ method: 'GET', url });
      return { status: response.statusCode, body: response.json<Record<string, unknown>>() };
    };
    const group = `${ctx.config.KAFKA_TOPIC_PREFIX}materializer`;

    const before = await probe('/readyz');
    assert.equal(before.status, 503, 'the consumer has not started');
    assert.equal(before.body.detail, `consumer group ${group}: not joined`);
    assert.equal((await probe('/livez')).status, 200);

    await app.startAllMicroservices();
    const ready = await eventually(async () => {
      const answer = await probe('/readyz');
      return answer.status === 200 ? answer.body : undefined;
    }, 'the materializer group to join');
    assert.deepEqual(ready.consumers, [{ name: group, joined: true }]);
    assert.equal(ready.draining, false);

    // What Nest calls first when the app closes: from then on, traffic goes elsewhere while requests finish here.
    app.get(Readiness).onModuleDestroy();
    const draining = await probe('/readyz');
    assert.equal(draining.status, 503);
    assert.match(String(draining.body.detail), /draining/);
    assert.equal((await probe('/livez')).status, 200);
  });
});
