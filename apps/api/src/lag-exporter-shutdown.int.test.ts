import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { useTestContext } from '#test/harness/test-context.js';
import { createTopics, startRoles } from '#test/support/app.js';
import { apiRole } from './api.role.js';

const ctx = useTestContext('lag-exporter-shutdown');

describe('the api role leading lag export shuts down', () => {
  it('gives the lead’s pooled connection back, so closing the app does not wait on the pool for ever', async () => {
    await createTopics(ctx);
    const api = await startRoles(ctx, [apiRole]);
    const metrics = await api.app.getHttpAdapter().getInstance().inject({ method: 'GET', url: '/metrics' });
    assert.match(metrics.body, /^kafka_lag_exporter_leader(\{[^}]*\})? 1$/m, 'this process leads (and holds the lock)');
    const closed = api.app.close().then(() => 'closed');
    const late = new Promise((resolve) => setTimeout(() => resolve('still closing after 15 s'), 15_000).unref());
    assert.equal(await Promise.race([closed, late]), 'closed');
  });
});
