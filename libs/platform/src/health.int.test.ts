import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Module } from '@nestjs/common';
import { loadConfig } from '#libs/config';
import { openResources } from '#libs/resources';
import { useTestContext } from '#test/harness/test-context.js';
import type { Pool } from '#libs/db';
import { createRolesApp } from './bootstrap.js';
import { PG_POOL } from './tokens.js';

const ctx = useTestContext('health');

@Module({})
class SampleRoleModule {}

describe('/health and /metrics', () => {
  it('are 200 with every dependency checked when the stack is reachable', async () => {
    const app = await createRolesApp([{ name: 'sample', module: SampleRoleModule, defaultPort: 0 }], ctx.config);
    ctx.defer(() => app.close());
    await app.init();
    await app.getHttpAdapter().getInstance().ready();

    const health = await app.getHttpAdapter().getInstance().inject({ method: 'GET', url: '/health' });
    assert.equal(health.statusCode, 200);
    const body = health.json<{ status: string; roles: string[]; checks: Record<string, { ok: boolean }> }>();
    assert.equal(body.status, 'ok');
    assert.deepEqual(body.roles, ['sample']);
    assert.deepEqual(Object.keys(body.checks).sort(), ['kafka', 'postgres', 'redis', 'schemaRegistry']);

    const metrics = await app.getHttpAdapter().getInstance().inject({ method: 'GET', url: '/metrics' });
    assert.equal(metrics.statusCode, 200);
    assert.match(metrics.headers['content-type'] as string, /^text\/plain/);
    assert.match(metrics.body, /^orchestrator_role_up\{role="sample",service="sample"\} 1$/m);
    assert.match(metrics.body, /^nodejs_eventloop_lag_seconds\{/m);
  });

  it('closing the app while a probe is connecting to Kafka leaves its admin client closed', async () => {
    const before = new Set(openResources());
    const app = await createRolesApp([{ name: 'sample', module: SampleRoleModule, defaultPort: 0 }], ctx.config);
    await app.init();
    const fastify = app.getHttpAdapter().getInstance();
    await fastify.ready();
    // The first probe connects the admin lazily; the shutdown starts while that connect is under way.
    const probe = fastify.inject({ method: 'GET', url: '/health' });
    await new Promise((resolve) => setImmediate(resolve));
    await app.close();
    await probe.catch(() => undefined);
    const leaked = openResources().filter((r) => !before.has(r));
    assert.deepEqual(
      leaked.map((r) => r.name),
      [],
      'everything the app opened is closed, the health admin client too',
    );
  });

  it('closes /metrics off a loopback address until METRICS_TOKEN is set, then needs the token', async () => {
    const scrape = async (config: typeof ctx.config, headers: Record<string, string> = {}) => {
      const app = await createRolesApp([{ name: 'sample', module: SampleRoleModule, defaultPort: 0 }], config);
      ctx.defer(() => app.close());
      await app.init();
      return app.getHttpAdapter().getInstance().inject({ method: 'GET', url: '/metrics', headers });
    };
    const open = await scrape({ ...ctx.config, HOST: '0.0.0.0' });
    assert.equal(open.statusCode, 403);
    assert.match(open.headers['content-type'] as string, /^application\/problem\+json/);
    assert.match(open.body, /METRICS_TOKEN/);
    const config = { ...ctx.config, HOST: '0.0.0.0', METRICS_TOKEN: 'prometheus-scrape-secret' };
    assert.equal((await scrape(config)).statusCode, 401);
    assert.equal((await scrape(config, { authorization: 'Bearer wrong-token' })).statusCode, 401);
    const scraped = await scrape(config, { authorization: 'Bearer prometheus-scrape-secret' });
    assert.equal(scraped.statusCode, 200);
    assert.match(scraped.body, /^orchestrator_role_up\{/m);
  });

  it('shares one probe of the dependencies among concurrent requests, and probes again afterwards', async () => {
    const app = await createRolesApp([{ name: 'sample', module: SampleRoleModule, defaultPort: 0 }], ctx.config);
    ctx.defer(() => app.close());
    await app.init();
    const fastify = app.getHttpAdapter().getInstance();
    await fastify.ready();
    // The real pool, counted: every probe runs exactly one `SELECT 1` on it.
    const pool = app.get<Pool>(PG_POOL);
    let probes = 0;
    const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
    pool.query = ((...args: unknown[]) => {
      if (args[0] === 'SELECT 1') probes += 1;
      return query(...args);
    }) as typeof pool.query;

    const burst = await Promise.all(
      Array.from({ length: 20 }, () => fastify.inject({ method: 'GET', url: '/health' })),
    );
    assert.deepEqual(
      burst.map((r) => r.statusCode),
      Array(20).fill(200),
    );
    assert.equal(probes, 1, 'one probe for 20 concurrent requests');
    await fastify.inject({ method: 'GET', url: '/health' });
    assert.equal(probes, 2, 'a request after the probe ended starts a new one');
  });

  it('is 503 problem+json naming what is unreachable', async () => {
    const config = loadConfig({
      ...process.env,
      DATABASE_URL: ctx.databaseUrl,
      REDIS_URL: 'redis://127.0.0.1:1',
      HEALTH_TIMEOUT_MS: '1500',
      // The failing checks are logged at warn by design; this file's output stays quiet.
      LOG_LEVEL: 'error',
    });
    const app = await createRolesApp([{ name: 'sample', module: SampleRoleModule, defaultPort: 0 }], config);
    ctx.defer(() => app.close());
    await app.init();
    const response = await app.getHttpAdapter().getInstance().inject({ method: 'GET', url: '/health' });
    assert.equal(response.statusCode, 503);
    assert.match(response.headers['content-type'] as string, /^application\/problem\+json/);
    const problem = response.json<{ status: number; detail: string; checks: Record<string, { ok: boolean }> }>();
    assert.equal(problem.status, 503);
    assert.match(problem.detail, /^redis: /);
    assert.equal(problem.checks.postgres?.ok, true);
    assert.equal(problem.checks.kafka?.ok, true);
    // Not ready either, but alive: a dependency outage must not get every instance restarted.
    const ready = await app.getHttpAdapter().getInstance().inject({ method: 'GET', url: '/readyz' });
    assert.equal(ready.statusCode, 503);
    assert.match(ready.json<{ detail: string }>().detail, /^redis: /);
    const live = await app.getHttpAdapter().getInstance().inject({ method: 'GET', url: '/livez' });
    assert.equal(live.statusCode, 200);
  });

  it('names what is down without quoting its error, which goes to the log', async () => {
    const config = loadConfig({
      ...process.env,
      DATABASE_URL: `${ctx.databaseUrl}_missing`,
      REDIS_URL: 'redis://127.0.0.1:1',
      HEALTH_TIMEOUT_MS: '1500',
      // The failing checks are logged at warn by design; this file's output stays quiet.
      LOG_LEVEL: 'error',
    });
    const app = await createRolesApp([{ name: 'sample', module: SampleRoleModule, defaultPort: 0 }], config);
    ctx.defer(() => app.close());
    await app.init();
    const response = await app.getHttpAdapter().getInstance().inject({ method: 'GET', url: '/health' });
    assert.equal(response.statusCode, 503);
    const problem = response.json<{ detail: string; checks: Record<string, { ok: boolean; error?: string }> }>();
    assert.match(problem.detail, /^postgres: (unavailable|timed out); redis: (unavailable|timed out)$/);
    assert.match(problem.checks.postgres?.error ?? '', /^(unavailable|timed out)$/);
    assert.doesNotMatch(response.body, /database|does not exist|ECONNREFUSED|127\.0\.0\.1|_missing/);
  });
});
