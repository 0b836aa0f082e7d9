import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import {
  cacheDecision,
  nodeCacheKey,
  NodeCacheMetrics,
  NodeResultCache,
  RedisCacheStore,
  sensitiveDataCheck,
  type CacheCandidate,
  type CachePolicySettings,
  type NodeCacheKey,
  type NodeResult,
} from '#libs/cache';
import type { AppConfig } from '#libs/config';
import type { CachedResult, NodeDispatch } from '#libs/events';
import { ExpressionEvaluator } from '#libs/expressions';
import { instrumentRedis } from '#libs/observability';
import { CONFIG, LOGGER, METRICS_REGISTRY } from '#libs/platform';
import { createRedis, type RedisClient } from '#libs/redis';

/** What the caches' policies decide a task by. */
export const cacheCandidate = (
  task: NodeDispatch,
  config: Readonly<Record<string, unknown>>,
  evaluator?: ExpressionEvaluator,
): CacheCandidate => ({
  workspaceId: task.workspaceId,
  cheap:
    task.nodeType === 'function' && typeof config.expression === 'string' && !!evaluator?.isBounded(config.expression),
  // Both absent (not null) in tasks written before they existed.
  permission: task.permission ?? null,
  nodeType: task.nodeType,
  config,
  node: task.cache ?? null,
});

/** A node attempt's result, and where it came from when the cache served it. */
export interface ServedResult {
  readonly result: NodeResult;
  readonly cached: CachedResult | null;
  /** The result's write to the cache, still under way: await it after sending the completion on. Never rejects. */
  readonly written?: Promise<unknown>;
}

/**
 * The worker's node result cache: decides per task whether it goes through the cache (policy), keys it, and runs it
 * through libs/cache with a Redis client of its own (CACHE_REDIS_URL, with a short command timeout). Redis failing
 * never fails a node: the task runs uncached.
 */
@Injectable()
export class NodeCacheService implements OnModuleInit, OnApplicationShutdown {
  private readonly redis: RedisClient | undefined;
  private readonly cache: NodeResultCache | undefined;
  private readonly policy: CachePolicySettings;
  private readonly logger: Logger;

  constructor(
    @Inject(CONFIG) private readonly config: AppConfig,
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Inject(LOGGER) logger: Logger,
    @Inject(NodeCacheMetrics) private readonly metrics: NodeCacheMetrics,
    @Inject(ExpressionEvaluator) private readonly evaluator: ExpressionEvaluator,
  ) {
    this.logger = logger.child({ component: 'node-cache' });
    this.policy = { enabled: config.CACHE_ENABLED, workspaces: config.CACHE_WORKSPACE_POLICIES };
    if (!config.CACHE_ENABLED) return;
    this.redis = createRedis(config.CACHE_REDIS_URL ?? config.REDIS_URL, 'node-cache', {
      commandTimeout: config.CACHE_REDIS_TIMEOUT_MS,
      connectTimeout: Math.max(1_000, config.CACHE_REDIS_TIMEOUT_MS),
      // Concurrent tasks' lookups and writes of one event-loop turn leave in one socket write.
      enableAutoPipelining: true,
    });
    instrumentRedis(this.redis, registry);
    this.cache = new NodeResultCache(new RedisCacheStore(this.redis), {
      leaseMs: config.CACHE_LEASE_MS,
      waitMs: config.CACHE_WAIT_MS,
      maxEntryBytes: config.CACHE_MAX_ENTRY_BYTES,
      sensitive: sensitiveDataCheck(config.CACHE_SENSITIVE_DETECTORS, config.CACHE_SENSITIVE_PATTERNS),
    });
  }

  /** Connects now rather than on the first task (whose commands would fail while connecting: no offline queue). */
  onModuleInit(): void {
    this.redis?.connect().catch((error: unknown) => {
      this.logger.warn(
        { err: error },
        'node result cache unavailable at start-up: nodes run uncached until it is back',
      );
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.redis?.quit().catch(() => this.redis?.disconnect());
  }

  /**
   * Serves the task's result from the cache, or runs `execute` (once for identical concurrent tasks) and keeps its
   * result when it is worth keeping. `inputs` is what the node's executor reads besides its config.
   */
  async serve(
    task: NodeDispatch,
    config: Readonly<Record<string, unknown>>,
    inputs: unknown,
    execute: () => Promise<NodeResult>,
  ): Promise<ServedResult> {
    const decision = cacheDecision(cacheCandidate(task, config, this.evaluator), this.policy);
    const key = decision.cache && this.cache ? this.keyOf(task, decision.permission, config, inputs) : undefined;
    if (!decision.cache || !this.cache || !key) {
      this.metrics.bypassed(task.nodeType);
      return { result: await execute(), cached: null };
    }
    const served = await this.cache.through(
      {
        key,
        ttlMs: decision.ttlMs,
        runId: task.runId,
        nodeId: task.nodeId,
        deadlineAt: task.deadlineAt,
        // The completion goes out first: the write is off the run's path (a Redis round trip per node at idle).
        writeBehind: true,
      },
      execute,
    );
    this.metrics.served(task.nodeType, served);
    // Fields rather than a child logger: a child per task costs its serialised bindings even when debug is off.
    const where = { runId: task.runId, nodeId: task.nodeId };
    if (served.outcome === 'hit') {
      const { entry } = served;
      this.logger.debug(
        { ...where, fromRunId: entry.runId, fromNodeId: entry.nodeId, waited: served.waited },
        'node result from cache',
      );
      return {
        result: { ok: true, output: entry.output },
        cached: {
          fromRunId: entry.runId,
          fromNodeId: entry.nodeId,
          producedAt: entry.producedAt,
          durationMs: entry.durationMs,
          match: 'exact',
          similarity: null,
        },
      };
    }
    if (served.sensitive) {
      this.logger.debug({ ...where, detector: served.sensitive }, 'node result not cached: it holds sensitive data');
    }
    return { result: served.result, cached: null, ...(served.written ? { written: served.written } : {}) };
  }

  /** The task's cache key, or none when its config or inputs have no canonical form (a lone surrogate, say). */
  private keyOf(task: NodeDispatch, permission: string, config: unknown, inputs: unknown): NodeCacheKey | undefined {
    try {
      return nodeCacheKey(this.config.REDIS_KEY_PREFIX, {
        workspaceId: task.workspaceId,
        permission,
        nodeType: task.nodeType,
        config,
        inputs,
      });
    } catch (error) {
      this.logger.debug({ err: error, runId: task.runId, nodeId: task.nodeId }, 'node result cache: no key');
      return undefined;
    }
  }
}
