import { randomUUID } from 'node:crypto';
import type { AppConfig } from '#libs/config';
import { embeddingsClient } from '#apps/worker/src/agent/embeddings.js';
import { startChatCompletionsStandIn } from '#apps/worker/src/agent/chat-completions-stand-in.js';
import {
  nodeCacheKey,
  NodeResultCache,
  openSemanticCacheStore,
  RedisCacheStore,
  SemanticCache,
  semanticScope,
  sensitiveDataCheck,
  type NodeResult,
} from '#libs/cache';
import { createRedis } from '#libs/redis';
import { percentile, sortedCopy } from '../support/stats.js';

/** Latency quantiles of one kind of lookup, in ms. */
export interface LookupLatency {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
}

export interface ExactLookupRun {
  /** A lookup that finds the entry: one Redis round trip (the lookup script). */
  readonly hit: LookupLatency;
  /**
   * A lookup that finds nothing, takes the single-flight lease, runs a node that returns at once and stores its result:
   * what the cache adds to an uncached node (the node's own time is ~0 here).
   */
  readonly miss: LookupLatency;
  /** The same node run with no cache at all, for scale (it does nothing, so this is the harness's floor). */
  readonly bare: LookupLatency;
}

function latency(samples: number[]): LookupLatency {
  const sorted = sortedCopy(samples);
  return {
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    meanMs: samples.reduce((a, b) => a + b, 0) / samples.length,
  };
}

/** A function node's typical result and inputs: small JSON, as most cached results are. */
const OUTPUT = { total: 1_234.5, items: ['a', 'b', 'c'], currency: 'EUR' };

/**
 * The exact cache's own cost, one lookup at a time against the stack's Redis through libs/cache as the worker uses it
 * (its client, command timeout and Lua script). Each measurement runs `count` unmeasured lookups first.
 */
export async function measureExactLookups(base: AppConfig, count: number): Promise<ExactLookupRun> {
  const redis = createRedis(base.CACHE_REDIS_URL ?? base.REDIS_URL, 'bench-cache', {
    commandTimeout: base.CACHE_REDIS_TIMEOUT_MS,
  });
  await redis.connect();
  const prefix = `bench.cache.${randomUUID()}:`;
  const workspaceId = randomUUID();
  const cache = new NodeResultCache(new RedisCacheStore(redis), {
    leaseMs: base.CACHE_LEASE_MS,
    waitMs: base.CACHE_WAIT_MS,
    maxEntryBytes: base.CACHE_MAX_ENTRY_BYTES,
    sensitive: sensitiveDataCheck(base.CACHE_SENSITIVE_DETECTORS, base.CACHE_SENSITIVE_PATTERNS),
  });
  const execute = (): Promise<NodeResult> => Promise.resolve({ ok: true, output: OUTPUT });
  const request = (inputs: unknown) => ({
    key: nodeCacheKey(prefix, {
      workspaceId,
      permission: 'write',
      nodeType: 'function',
      config: { expression: 'input.x' },
      inputs,
    }),
    ttlMs: 60_000,
    runId: randomUUID(),
    nodeId: 'a',
    deadlineAt: null,
  });
  const time = async (samples: number[] | undefined, task: () => Promise<unknown>) => {
    const started = performance.now();
    await task();
    samples?.push(performance.now() - started);
  };
  try {
    const miss: number[] = [];
    const hit: number[] = [];
    const bare: number[] = [];
    for (let i = 0; i < 2 * count; i++) {
      const measured = i >= count;
      // A key of its own per lookup: every one misses, then serves the hit right after.
      const req = request({ input: { x: i }, nodes: {} });
      await time(measured ? miss : undefined, async () => {
        const served = await cache.through(req, execute);
        if (served.outcome !== 'miss') throw new Error(`expected a miss, got ${served.outcome}`);
      });
      await time(measured ? hit : undefined, async () => {
        const served = await cache.through({ ...req, runId: randomUUID() }, execute);
        if (served.outcome !== 'hit') throw new Error(`expected a hit, got ${served.outcome}`);
      });
      await time(measured ? bare : undefined, execute);
    }
    return { hit: latency(hit), miss: latency(miss), bare: latency(bare) };
  } finally {
    await purge(redis, `${prefix}*`);
    await redis.quit();
  }
}

async function purge(redis: ReturnType<typeof createRedis>, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000);
    if (keys.length) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
}

export interface SemanticLookupRun {
  /** The prompt's embedding from the stand-in embeddings API over local HTTP: part of every lookup. */
  readonly embed: LookupLatency;
  /** Embedding, nearest-neighbour search (HNSW) and hit count, for a prompt whose answer is stored. */
  readonly hit: LookupLatency;
  /** Embedding, search finding nothing close enough, a node that returns at once, and the answer's insert. */
  readonly miss: LookupLatency;
  /** Entries of the workspace searched at the end (the misses stored them). */
  readonly entries: number;
}

/**
 * The semantic cache's own cost, one lookup at a time, through libs/cache against the stack's vector database
 * (VECTOR_DATABASE_URL: PGlite locally) and the chat-completions stand-in's embeddings API, both as the worker uses
 * them. `count` misses fill a fresh workspace, then `count` hits ask for those prompts again.
 */
export async function measureSemanticLookups(base: AppConfig, count: number): Promise<SemanticLookupRun> {
  const standIn = await startChatCompletionsStandIn(EMBEDDINGS_KEY);
  const { store, pool } = openSemanticCacheStore(base, 'bench-semantic-cache');
  const workspaceId = randomUUID();
  const embed = embeddingsClient({
    baseUrl: standIn.baseUrl,
    apiKey: EMBEDDINGS_KEY,
    model: base.EMBEDDINGS_MODEL,
    dimensions: base.EMBEDDINGS_DIMENSIONS,
    timeoutMs: base.EMBEDDINGS_TIMEOUT_MS,
  });
  const cache = new SemanticCache(store, embed, {
    dimensions: base.EMBEDDINGS_DIMENSIONS,
    maxEntryBytes: base.CACHE_MAX_ENTRY_BYTES,
    sensitive: sensitiveDataCheck(base.CACHE_SENSITIVE_DETECTORS, base.CACHE_SENSITIVE_PATTERNS),
  });
  const scope = {
    workspaceId,
    permission: 'write',
    scope: semanticScope({
      model: 'bench-model',
      system: 'You are a concise analyst.',
      embeddingModel: base.EMBEDDINGS_MODEL,
      dimensions: base.EMBEDDINGS_DIMENSIONS,
    }),
  };
  // Prompts far apart from each other (a word each of their own), so each miss stores a new entry and each hit finds
  // its own prompt's.
  const prompt = (i: number) => `Summarise ticket ${i} for customer account c${i * 7919} about invoice i${i * 104729}`;
  const request = (i: number) => ({
    scope,
    prompt: prompt(i),
    similarity: base.SEMANTIC_CACHE_SIMILARITY,
    ttlMs: 600_000,
    runId: randomUUID(),
    nodeId: 'answer',
  });
  const execute = (): Promise<NodeResult> =>
    Promise.resolve({ ok: true, output: { text: 'The ticket is about a late invoice.' } });
  const embedMs: number[] = [];
  const hitMs: number[] = [];
  const missMs: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      let started = performance.now();
      await embed(prompt(i));
      embedMs.push(performance.now() - started);
      started = performance.now();
      const served = await cache.through(request(i), execute);
      missMs.push(performance.now() - started);
      if (served.outcome !== 'miss' || served.write !== 'stored') {
        throw new Error(`expected a stored miss, got ${served.outcome}`);
      }
    }
    for (let i = 0; i < count; i++) {
      const started = performance.now();
      const served = await cache.through(request(i), execute);
      hitMs.push(performance.now() - started);
      if (served.outcome !== 'hit') throw new Error(`expected a hit for prompt ${i}, got ${served.outcome}`);
    }
    return { embed: latency(embedMs), hit: latency(hitMs), miss: latency(missMs), entries: count };
  } finally {
    await pool.query('DELETE FROM semantic_cache_entries WHERE workspace_id = $1', [workspaceId]);
    await pool.end();
    await standIn.close();
  }
}

const EMBEDDINGS_KEY = 'bench-embeddings-key';
