import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { NodeCacheMetrics, openSemanticCacheStore } from '#libs/cache';
import type { AppConfig } from '#libs/config';
import { createPool, type Pool } from '#libs/db';
import type { CachedResult, NodeDispatch } from '#libs/events';
import { semanticCacheRetentionJob } from '#libs/retention';
import { useTestContext } from '#test/harness/test-context.js';
import type { ExecutionResult } from './execution-result.js';
import { startChatCompletionsStandIn, type ChatCompletionsStandIn } from './agent/chat-completions-stand-in.js';
import { SemanticCacheService } from './semantic-cache.service.js';

const ctx = useTestContext('semantic_cache');
const API_KEY = 'sk-semantic-cache';

const REPORT = 'Summarise the quarterly sales report for the northern region team';
const REPORT_AGAIN = 'Please summarise the quarterly sales report for the northern region team';
const POEM = 'Translate this short poem about autumn leaves into French';

interface Asked {
  readonly result: ExecutionResult;
  readonly hit: CachedResult | null;
  /** How often the model was asked (0 or 1). */
  readonly modelCalls: number;
}

/**
 * The semantic cache of agent nodes as the worker uses it (policy, scope, embeddings over HTTP, the vector search in
 * the real pgvector of the test stack), without Kafka. Every test uses workspaces of its own, which nothing else uses.
 */
describe('semantic cache of agent nodes', () => {
  let llm: ChatCompletionsStandIn;
  let vector: Pool;
  const workspaces: string[] = [];
  const services: SemanticCacheService[] = [];

  const workspace = () => {
    const id = randomUUID();
    workspaces.push(id);
    return id;
  };
  const serviceWith = (overrides: Partial<AppConfig> = {}) => {
    const metrics = new NodeCacheMetrics(new Registry());
    const service = new SemanticCacheService(
      {
        ...ctx.config,
        EMBEDDINGS_BASE_URL: llm.baseUrl,
        EMBEDDINGS_API_KEY: API_KEY,
        EMBEDDINGS_TIMEOUT_MS: 300,
        ...overrides,
      },
      ctx.logger,
      metrics,
    );
    services.push(service);
    return service;
  };
  let service: SemanticCacheService;

  /** One agent attempt through the semantic cache; the "model" answers `answer: <prompt>` unless told otherwise. */
  const ask = async (
    on: SemanticCacheService,
    prompt: string,
    task: Partial<NodeDispatch> & { workspaceId: string },
    config: Record<string, unknown> = { model: 'gpt-test', prompt: '{{ input }}' },
    model: () => ExecutionResult = () => ({ ok: true, output: { text: `answer: ${prompt}` } }),
  ): Promise<Asked> => {
    let hit: CachedResult | null = null;
    let modelCalls = 0;
    const around = on.around(
      {
        nodeType: 'agent',
        permission: 'write',
        runId: randomUUID(),
        nodeId: 'write',
        cache: null,
        ...task,
      } as NodeDispatch,
      config,
      (cached) => {
        hit = cached;
      },
    );
    assert.ok(around, 'the task goes through the semantic cache');
    const result = await around(prompt, () => {
      modelCalls++;
      return Promise.resolve(model());
    });
    return { result, hit, modelCalls };
  };
  const entries = async (workspaceId: string) =>
    (
      await vector.query<{ hits: string; expires_at: Date }>(
        'SELECT hits, expires_at FROM semantic_cache_entries WHERE workspace_id = $1 ORDER BY id',
        [workspaceId],
      )
    ).rows;

  before(async () => {
    llm = await startChatCompletionsStandIn(API_KEY);
    ctx.defer(() => llm.close());
    vector = createPool(ctx.config.VECTOR_DATABASE_URL, { name: 'semantic-cache-test', max: 2 });
    ctx.defer(() => vector.end());
    ctx.defer(async () => {
      await vector.query('DELETE FROM semantic_cache_entries WHERE workspace_id = ANY($1::uuid[])', [workspaces]);
    });
    ctx.defer(() => Promise.all(services.map((s) => s.onApplicationShutdown())));
    service = serviceWith();
  });

  it('serves the answer of a similar prompt with its similarity, asks the model for a different one', async () => {
    const workspaceId = workspace();
    const first = await ask(service, REPORT, { workspaceId });
    assert.deepEqual([first.modelCalls, first.hit], [1, null]);
    const similar = await ask(service, REPORT_AGAIN, { workspaceId });
    assert.equal(similar.modelCalls, 0);
    assert.deepEqual(similar.result, { ok: true, output: { text: `answer: ${REPORT}` }, fromCache: true });
    assert.equal(similar.hit?.match, 'semantic');
    assert.ok(similar.hit.similarity! >= 0.92 && similar.hit.similarity! < 1, String(similar.hit.similarity));
    assert.equal(similar.hit.fromNodeId, 'write');
    const different = await ask(service, POEM, { workspaceId });
    assert.deepEqual([different.modelCalls, different.hit], [1, null]);
    // The stand-in was asked for vectors of the configured model and length.
    assert.deepEqual(
      { model: llm.embeddings.at(-1)?.model, dimensions: llm.embeddings.at(-1)?.dimensions },
      { model: 'text-embedding-3-small', dimensions: 1536 },
    );
  });

  it('counts the hits of an entry', async () => {
    const workspaceId = workspace();
    await ask(service, REPORT, { workspaceId });
    await ask(service, REPORT_AGAIN, { workspaceId });
    await ask(service, `${REPORT} now`, { workspaceId });
    assert.deepEqual(
      (await entries(workspaceId)).map((e) => e.hits),
      ['2'],
    );
  });

  it('takes a node’s own threshold: above the similarity of two prompts, they do not match', async () => {
    const workspaceId = workspace();
    const strict = { workspaceId, cache: { similarity: 0.99 } } as Partial<NodeDispatch> & { workspaceId: string };
    await ask(service, REPORT, strict);
    const similar = await ask(service, REPORT_AGAIN, strict);
    assert.deepEqual([similar.modelCalls, similar.hit], [1, null]);
    // The same prompts match under the default threshold.
    assert.equal((await ask(service, REPORT_AGAIN, { workspaceId })).modelCalls, 0);
  });

  it('never serves an answer to another workspace or another permission', async () => {
    const workspaceId = workspace();
    await ask(service, REPORT, { workspaceId, permission: 'admin' });
    const elsewhere = await ask(service, REPORT, { workspaceId: workspace(), permission: 'admin' });
    assert.deepEqual([elsewhere.modelCalls, elsewhere.hit], [1, null]);
    for (const permission of ['read', 'write'] as const) {
      const lower = await ask(service, REPORT, { workspaceId, permission });
      assert.deepEqual([lower.modelCalls, lower.hit], [1, null], permission);
    }
    assert.equal((await ask(service, REPORT_AGAIN, { workspaceId, permission: 'admin' })).modelCalls, 0);
  });

  it('matches only answers of the same model, system prompt, temperature and maxTokens', async () => {
    const workspaceId = workspace();
    const base = { model: 'gpt-test', prompt: '{{ input }}', system: 'Be brief.' };
    await ask(service, REPORT, { workspaceId }, base);
    for (const config of [
      { ...base, model: 'gpt-other' },
      { ...base, system: 'Be thorough.' },
      { model: 'gpt-test', prompt: '{{ input }}' },
      { ...base, temperature: 1 },
      { ...base, maxTokens: 5 },
    ]) {
      const other = await ask(service, REPORT, { workspaceId }, config);
      assert.deepEqual([other.modelCalls, other.hit], [1, null], JSON.stringify(config));
    }
    assert.equal((await ask(service, REPORT_AGAIN, { workspaceId }, base)).modelCalls, 0);
  });

  it('lets entries expire, and the retention job deletes expired ones', async () => {
    const workspaceId = workspace();
    const shortLived = { workspaceId, cache: { semanticTtlMs: 50 } } as Partial<NodeDispatch> & { workspaceId: string };
    await ask(service, REPORT, shortLived);
    const [entry] = await entries(workspaceId);
    assert.ok(entry && Math.abs(entry.expires_at.getTime() - Date.now()) < 10_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal((await ask(service, REPORT, { workspaceId })).modelCalls, 1, 'expired: the model is asked');
    const retention = openSemanticCacheStore(ctx.config, 'semantic-cache-test-retention');
    ctx.defer(() => retention.pool.end());
    const job = semanticCacheRetentionJob(retention.store);
    assert.ok((await job.deleteBatch(vector, 1_000)) >= 1);
    assert.equal((await entries(workspaceId)).length, 1, 'the expired entry went, the new one stayed');
    // A day by default.
    const [fresh] = await entries(workspaceId);
    assert.ok(Math.abs(fresh!.expires_at.getTime() - Date.now() - 86_400_000) < 60_000);
  });

  it('keeps answers holding personal data out, and prompts holding it are not looked up', async () => {
    const workspaceId = workspace();
    const leaky = () => ({ ok: true as const, output: { text: 'mail ada@example.org' } });
    await ask(service, REPORT, { workspaceId }, undefined, leaky);
    assert.equal((await ask(service, REPORT, { workspaceId })).modelCalls, 1, 'nothing was stored');
    const embedded = llm.embeddings.length;
    const personal = `${REPORT} for ada@example.org`;
    assert.equal((await ask(service, personal, { workspaceId })).modelCalls, 1);
    assert.equal(llm.embeddings.length, embedded, 'a prompt with an email is not even embedded');
    assert.equal((await entries(workspaceId)).length, 1);
  });

  it('never keeps a failure', async () => {
    const workspaceId = workspace();
    const failed = await ask(service, REPORT, { workspaceId }, undefined, () => ({ ok: false, error: 'HTTP 500' }));
    assert.deepEqual(failed.result, { ok: false, error: 'HTTP 500' });
    assert.equal((await ask(service, REPORT, { workspaceId })).modelCalls, 1);
    assert.equal((await entries(workspaceId)).length, 1);
  });

  it('asks the model when the embeddings API fails or is slow, within its timeout', async () => {
    const workspaceId = workspace();
    await ask(service, REPORT, { workspaceId });
    try {
      llm.embeddingsDown = true;
      const down = await ask(service, REPORT, { workspaceId });
      assert.deepEqual([down.result.ok, down.modelCalls, down.hit], [true, 1, null]);
      llm.embeddingsDown = false;
      llm.embeddingsHang = true;
      const started = Date.now();
      const slow = await ask(service, REPORT, { workspaceId });
      assert.deepEqual([slow.result.ok, slow.modelCalls], [true, 1]);
      assert.ok(Date.now() - started < 2_000, `${Date.now() - started} ms`);
    } finally {
      llm.embeddingsDown = false;
      llm.embeddingsHang = false;
    }
    assert.equal((await entries(workspaceId)).length, 1, 'nothing stored without an embedding');
  });

  it('asks the model when the vector database is down or does not answer', async () => {
    // A port where nothing listens, and one that accepts connections and never answers.
    const sockets: Socket[] = [];
    const silent: Server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    ctx.defer(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    });
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    for (const port of [closedPort, (silent.address() as { port: number }).port]) {
      const down = serviceWith({
        VECTOR_DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/postgres`,
        VECTOR_DATABASE_TIMEOUT_MS: 200,
      });
      const started = Date.now();
      const asked = await ask(down, REPORT, { workspaceId: workspace() });
      assert.deepEqual([asked.result.ok, asked.modelCalls, asked.hit], [true, 1, null], `port ${port}`);
      assert.ok(Date.now() - started < 3_000, `${Date.now() - started} ms`);
    }
  });

  it('is off where the policy says so: other node types, the node, the workspace, no embeddings API', () => {
    const workspaceId = workspace();
    const task = (t: Partial<NodeDispatch>) =>
      ({
        nodeType: 'agent',
        permission: 'write',
        runId: randomUUID(),
        nodeId: 'n',
        workspaceId,
        cache: null,
        ...t,
      }) as NodeDispatch;
    const config = { model: 'gpt-test', prompt: 'x' };
    assert.equal(
      service.around(task({ nodeType: 'function' }), config, () => undefined),
      undefined,
    );
    assert.equal(
      service.around(task({ permission: null }), config, () => undefined),
      undefined,
    );
    const semanticOff = { enabled: null, ttlMs: null, semantic: false, similarity: null, semanticTtlMs: null };
    assert.equal(
      service.around(task({ cache: semanticOff }), config, () => undefined),
      undefined,
    );
    const offHere = serviceWith({ CACHE_WORKSPACE_POLICIES: new Map([[workspaceId, { semanticTtlMs: 0 }]]) });
    assert.equal(
      offHere.around(task({}), config, () => undefined),
      undefined,
    );
    const noApi = serviceWith({ EMBEDDINGS_BASE_URL: undefined });
    assert.equal(
      noApi.around(task({}), config, () => undefined),
      undefined,
    );
    assert.ok(service.around(task({}), config, () => undefined));
  });
});
