import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { AppConfig } from '#libs/config';
import { ApiKeysRepository } from '#libs/auth';
import { createPool } from '#libs/db';
import { SAMPLE_DEFINITION, startRoles, type TestApp } from '#test/support/app.js';
import { useTestContext } from '#test/harness/test-context.js';
import { apiRole } from '../api.role.js';

const ctx = useTestContext('api-rate-limits');

/** The API with these settings; each scenario counts in Redis under its own prefix. */
const startApi = (scenario: string, settings: Partial<AppConfig>): Promise<TestApp> =>
  startRoles(ctx, [apiRole], {
    ...ctx.config,
    OUTBOX_EAGER_GRACE_MS: 0,
    LAG_EXPORTER_ENABLED: false,
    REDIS_KEY_PREFIX: `${ctx.config.REDIS_KEY_PREFIX}${scenario}:`,
    ...settings,
  });

/** The value of the series of GET /metrics with this name and these labels (0 when absent). */
async function metric(api: TestApp, name: string, labels: string[]): Promise<number> {
  const reply = await api.app.getHttpAdapter().getInstance().inject({ method: 'GET', url: '/metrics' });
  const line = reply.body
    .split('\n')
    .find((l) => l.startsWith(`${name}{`) && labels.every((label) => l.includes(label)));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

describe('rate limits (per key, per source address) and the unknown-key cache', () => {
  let workflowId: string;
  let keys: ApiKeysRepository;
  let workspaceId: string;

  before(async () => {
    const setup = await startApi('setup', {});
    const created = await setup.request<{ id: string }>('POST', '/v1/workflows', {
      body: { name: 'w', definition: SAMPLE_DEFINITION },
    });
    assert.equal(created.status, 201);
    workflowId = created.body.id;
    keys = setup.app.get(ApiKeysRepository);
    const pool = createPool(ctx.databaseUrl, { name: 'rate-limits-test' });
    ctx.defer(() => pool.end());
    const { rows } = await pool.query<{ id: string }>("SELECT id FROM workspaces WHERE name = 'default'");
    workspaceId = (rows[0] as { id: string }).id;
  });

  it('answers 429 problem+json with Retry-After once a key spent its budget, in every API process', async () => {
    const settings = { RATE_LIMIT_PER_KEY: 3, RATE_LIMIT_PER_ADDRESS: 1000, RATE_LIMIT_WINDOW_SECONDS: 60 };
    const one = await startApi('per-key', settings);
    const two = await startApi('per-key', settings);
    const key = (await keys.create(workspaceId, 'read')).key;
    const url = `/v1/workflows/${workflowId}`;
    assert.equal((await one.request('GET', url, { key })).status, 200);
    assert.equal((await two.request('GET', url, { key })).status, 200);
    assert.equal((await one.request('GET', url, { key })).status, 200);
    for (const api of [two, one]) {
      const refused = await api.request<{ type: string; status: number }>('GET', url, { key });
      assert.equal(refused.status, 429);
      assert.match(String(refused.headers['content-type']), /^application\/problem\+json/);
      assert.equal(refused.body.type, 'urn:orchestrator:problem:rate-limited');
      const retryAfter = Number(refused.headers['retry-after']);
      assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${String(refused.headers['retry-after'])}`);
    }
    // Another key of the same workspace has a budget of its own.
    const other = (await keys.create(workspaceId, 'read')).key;
    assert.equal((await two.request('GET', url, { key: other })).status, 200);
    assert.equal(await metric(one, 'rate_limit_refused_total', ['scope="key"']), 1);
  });

  it('limits a source address however many keys it makes up, before looking any of them up', async () => {
    const api = await startApi('per-address', { RATE_LIMIT_PER_KEY: 0, RATE_LIMIT_PER_ADDRESS: 5 });
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      statuses.push((await api.request('GET', `/v1/workflows/${workflowId}`, { key: `ok_made-up-${i}` })).status);
    }
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429, 429]);
    assert.equal(await metric(api, 'cache_requests_total', ['cache="api_key"', 'result="miss"']), 5);
  });

  it('looks an unknown key up once however often it is repeated (negative cache)', async () => {
    const api = await startApi('negative-cache', {});
    for (let i = 0; i < 20; i++) {
      assert.equal((await api.request('GET', `/v1/workflows/${workflowId}`, { key: 'ok_unknown' })).status, 401);
    }
    assert.equal(await metric(api, 'cache_requests_total', ['cache="api_key"', 'result="miss"']), 1);
    assert.equal(await metric(api, 'cache_requests_total', ['cache="api_key"', 'result="hit"']), 19);
  });

  it('lets requests through when Redis is down, and counts them as unchecked', async () => {
    const api = await startApi('redis-down', {
      REDIS_URL: 'redis://127.0.0.1:1',
      RATE_LIMIT_PER_KEY: 1,
      LOG_LEVEL: 'error', // the outage warnings are expected here
    });
    const key = (await keys.create(workspaceId, 'read')).key;
    for (let i = 0; i < 3; i++) {
      assert.equal((await api.request('GET', `/v1/workflows/${workflowId}`, { key })).status, 200);
    }
    assert.ok((await metric(api, 'rate_limit_store_errors_total', ['scope="key"'])) >= 3);
  });
});
