import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { before, describe, it } from 'node:test';
import { apiRole } from '#apps/api/src/api.role.js';
import { ApiKeysRepository } from '#libs/auth';
import { LOOKUP_COUNTER_TTL_MS, lookupCounterKey, nodeCacheKey } from '#libs/cache';
import { createPool, type Pool } from '#libs/db';
import { createRedis, type RedisClient } from '#libs/redis';
import { useTestContext } from '#test/harness/test-context.js';
import { createTopics, startRoles } from '#test/support/app.js';
import { cliEnv, runCli, type CliResult } from './cli-process.test-support.js';

const ctx = useTestContext('cli-cache');

/** `orchestrator cache stats|purge` (the real binary) against the API, over entries and counters put into Redis. */
describe('orchestrator cache stats / purge against the real API and Redis', () => {
  let env: NodeJS.ProcessEnv;
  let pool: Pool;
  let redis: RedisClient;
  let workspaceId: string;
  let otherWorkspaceId: string;
  let adminKey: string;
  let readKey: string;
  const cli = (...args: string[]): Promise<CliResult> => runCli(args, env);
  const ok = (result: CliResult): CliResult => {
    assert.equal(result.code, 0, `exit ${result.code}\n${result.stdout}\n${result.stderr}`);
    return result;
  };
  /** A cached entry of the workspace for a node type, as the worker writes it; and its hour's lookups. */
  const seed = async (workspace: string, nodeType: string, lookups: number) => {
    const key = nodeCacheKey(ctx.config.REDIS_KEY_PREFIX, {
      workspaceId: workspace,
      permission: 'write',
      nodeType,
      config: {},
      inputs: null,
    });
    await redis.set(key.entry, '{}', 'PX', 600_000);
    await redis.hincrby(lookupCounterKey(key.slot, Date.now()), nodeType, lookups);
    await redis.pexpire(lookupCounterKey(key.slot, Date.now()), LOOKUP_COUNTER_TTL_MS);
  };
  const entries = async (workspace: string) =>
    (await redis.keys(`${ctx.config.REDIS_KEY_PREFIX}cache:{ws:${workspace}}:node:*`)).length;

  before(async () => {
    await createTopics(ctx);
    const app = await startRoles(ctx, [apiRole]);
    await app.app.listen(0, '127.0.0.1');
    const port = (app.app.getHttpServer().address() as AddressInfo).port;
    pool = createPool(ctx.databaseUrl, { name: 'cli-cache' });
    ctx.defer(() => pool.end());
    redis = createRedis(ctx.config.REDIS_URL, 'cli-cache-test');
    await redis.connect();
    ctx.defer(() => redis.quit());
    const keys = new ApiKeysRepository(pool);
    workspaceId = (await pool.query<{ id: string }>("SELECT id FROM workspaces WHERE name = 'default'")).rows[0]!.id;
    adminKey = (await keys.create(workspaceId, 'admin')).key;
    readKey = (await keys.create(workspaceId, 'read')).key;
    const other = await pool.query<{ id: string }>("INSERT INTO workspaces (name) VALUES ('other') RETURNING id");
    otherWorkspaceId = other.rows[0]!.id;
    env = cliEnv(ctx, { ORCHESTRATOR_API_URL: `http://127.0.0.1:${port}`, ORCHESTRATOR_API_KEY: adminKey });
    await seed(workspaceId, 'function', 3);
    await seed(workspaceId, 'agent', 2);
    await seed(otherWorkspaceId, 'function', 7);
  });

  it('shows the key’s workspace stats, as a table or JSON', async () => {
    const stats = JSON.parse(ok(await cli('cache', 'stats', '--since', '2h', '--json')).stdout) as {
      workspaceId: string;
      lookups: number;
      hits: number;
      byNodeType: { nodeType: string; lookups: number }[];
    };
    assert.equal(stats.workspaceId, workspaceId);
    assert.deepEqual([stats.lookups, stats.hits], [5, 0]);
    assert.deepEqual(
      stats.byNodeType.map((t) => [t.nodeType, t.lookups]),
      [
        ['agent', 2],
        ['function', 3],
      ],
    );
    const text = ok(await cli('cache', 'stats', '--workspace', workspaceId, '--api-key', readKey)).stdout;
    assert.match(text, new RegExp(`^workspace ${workspaceId}, `));
    assert.match(text, /^lookups 5, hits 0, misses 5, hit rate 0\.0%, time saved 0\.0 s/m);
    assert.match(text, /^function\s+3\s+0\s+3\s+0\.0%\s+0\.0 s$/m);
  });

  it('refuses bad input with a usage error that names the option, and another workspace as unauthorized', async () => {
    const badSince = await cli('cache', 'stats', '--since', 'last week');
    assert.equal(badSince.code, 2);
    assert.match(badSince.stderr, /--since must be an ISO 8601 time .* not "last week"/);
    const badWorkspace = await cli('cache', 'purge', '--workspace', 'default');
    assert.equal(badWorkspace.code, 2);
    assert.match(badWorkspace.stderr, /--workspace must be a workspace id \(a uuid\), not "default"/);
    const noWorkspace = await cli('cache', 'purge');
    assert.equal(noWorkspace.code, 2);
    assert.match(noWorkspace.stderr, /required option '--workspace <id>'/);
    const badType = await cli('cache', 'purge', '--workspace', workspaceId, '--node-type', 'hitl');
    assert.equal(badType.code, 2);
    assert.match(badType.stderr, /--node-type <type>' argument 'hitl' is invalid/);
    const foreign = await cli('cache', 'stats', '--workspace', otherWorkspaceId);
    assert.equal(foreign.code, 4);
    assert.match(foreign.stderr, /^error: Not allowed with this API key: /);
    assert.equal(await entries(workspaceId), 2, 'nothing was purged');
  });

  it('purges one node type of the key’s workspace, admin keys only', async () => {
    const refused = await cli('cache', 'purge', '--workspace', workspaceId, '--api-key', readKey);
    assert.equal(refused.code, 4);
    assert.equal(await entries(workspaceId), 2);
    const typed = ok(await cli('cache', 'purge', '--workspace', workspaceId, '--node-type', 'agent'));
    assert.equal(typed.stdout, `deleted 1 cached agent results of workspace ${workspaceId}\n`);
    assert.equal(await entries(workspaceId), 1);
    assert.equal(await entries(otherWorkspaceId), 1);
    const rest = JSON.parse(ok(await cli('cache', 'purge', '--workspace', workspaceId, '--json')).stdout) as {
      deleted: number;
    };
    assert.equal(rest.deleted, 1);
    assert.equal(await entries(workspaceId), 0);
    assert.equal(await entries(otherWorkspaceId), 1, 'the other workspace keeps its entry');
  });
});
