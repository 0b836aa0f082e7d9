import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Logger } from 'pino';
import { Agent } from 'undici';
import {
  NodeCacheMetrics,
  openSemanticCacheStore,
  SemanticCache,
  semanticCacheOn,
  semanticDecision,
  type SemanticCacheStore,
  semanticScope,
  sensitiveDataCheck,
  type SemanticPolicySettings,
} from '#libs/cache';
import type { AppConfig } from '#libs/config';
import type { Pool } from '#libs/db';
import type { CachedResult, NodeDispatch } from '#libs/events';
import { CONFIG, LOGGER } from '#libs/platform';
import type { NodeConfigs } from '#libs/workflows';
import type { AroundModel } from './agent/agent.executor.js';
import { embeddingsClient } from './agent/embeddings.js';
import { cacheCandidate } from './node-cache.service.js';

/**
 * The worker's semantic cache for agent nodes: decides per task whether it goes through it (policy), and wraps the
 * model call so that an answer to a similar prompt (pgvector, VECTOR_DATABASE_URL) is served instead. On where an
 * embeddings API is configured. The vector database or the embeddings API failing never fails a node: it is a miss.
 */
@Injectable()
export class SemanticCacheService implements OnModuleInit, OnApplicationShutdown {
  private readonly pool: Pool | undefined;
  private readonly embeddingsAgent: Agent | undefined;
  private readonly store: SemanticCacheStore | undefined;
  private readonly cache: SemanticCache | undefined;
  private readonly policy: SemanticPolicySettings;
  private readonly logger: Logger;

  constructor(
    @Inject(CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) logger: Logger,
    @Inject(NodeCacheMetrics) private readonly metrics: NodeCacheMetrics,
  ) {
    this.logger = logger.child({ component: 'semantic-cache' });
    const on = semanticCacheOn(config);
    this.policy = {
      enabled: config.CACHE_ENABLED,
      workspaces: config.CACHE_WORKSPACE_POLICIES,
      semantic: on,
      similarity: config.SEMANTIC_CACHE_SIMILARITY,
      ttlMs: config.SEMANTIC_CACHE_TTL_MS,
    };
    if (!on || !config.EMBEDDINGS_BASE_URL) return;
    ({ store: this.store, pool: this.pool } = openSemanticCacheStore(config, 'semantic-cache'));
    this.embeddingsAgent = new Agent({ keepAliveTimeout: 30_000 });
    this.cache = new SemanticCache(
      this.store,
      embeddingsClient({
        baseUrl: config.EMBEDDINGS_BASE_URL,
        apiKey: config.EMBEDDINGS_API_KEY,
        model: config.EMBEDDINGS_MODEL,
        dimensions: config.EMBEDDINGS_DIMENSIONS,
        timeoutMs: config.EMBEDDINGS_TIMEOUT_MS,
        dispatcher: this.embeddingsAgent,
      }),
      {
        dimensions: config.EMBEDDINGS_DIMENSIONS,
        maxEntryBytes: config.CACHE_MAX_ENTRY_BYTES,
        sensitive: sensitiveDataCheck(config.CACHE_SENSITIVE_DETECTORS, config.CACHE_SENSITIVE_PATTERNS),
      },
    );
  }

  /** The index for EMBEDDINGS_DIMENSIONS, unless the migrations made it; without it lookups scan (slower, still right). */
  onModuleInit(): void {
    this.store?.ensureIndex().catch((error: unknown) => {
      this.logger.warn({ err: error }, 'semantic cache: no index for EMBEDDINGS_DIMENSIONS yet; lookups scan');
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool?.end();
    await this.embeddingsAgent?.close();
  }

  /**
   * The wrapper of the task's model call, or undefined when the task does not go through the semantic cache.
   * `onHit` is told where a served answer came from.
   */
  around(
    task: NodeDispatch,
    config: Readonly<Record<string, unknown>>,
    onHit: (cached: CachedResult) => void,
  ): AroundModel | undefined {
    if (task.nodeType !== 'agent' || !this.cache) return undefined;
    const decision = semanticDecision(cacheCandidate(task, config), this.policy);
    if (!decision.semantic) {
      this.metrics.bypassed('agent', 'semantic');
      return undefined;
    }
    const cache = this.cache;
    const agent = config as NodeConfigs['agent'];
    const scope = {
      workspaceId: task.workspaceId,
      permission: decision.permission,
      scope: semanticScope({
        model: agent.model,
        system: agent.system,
        temperature: agent.temperature,
        maxTokens: agent.maxTokens,
        embeddingModel: this.config.EMBEDDINGS_MODEL,
        dimensions: this.config.EMBEDDINGS_DIMENSIONS,
      }),
    };
    return async (prompt, ask) => {
      const served = await cache.through(
        {
          scope,
          prompt,
          similarity: decision.similarity,
          ttlMs: decision.ttlMs,
          runId: task.runId,
          nodeId: task.nodeId,
        },
        ask,
      );
      this.metrics.semanticServed(served);
      const where = { runId: task.runId, nodeId: task.nodeId };
      if (served.outcome !== 'hit') {
        if (served.failure) this.logger.debug({ ...where, failure: served.failure }, 'semantic cache unavailable');
        if (served.sensitive) {
          this.logger.debug({ ...where, detector: served.sensitive }, 'not in the semantic cache: sensitive data');
        }
        return served.result;
      }
      const { entry } = served;
      this.logger.debug(
        { ...where, fromRunId: entry.runId, similarity: entry.similarity },
        'agent answer from the semantic cache',
      );
      onHit({
        fromRunId: entry.runId,
        fromNodeId: entry.nodeId,
        producedAt: entry.producedAt,
        durationMs: entry.durationMs,
        match: 'semantic',
        similarity: entry.similarity,
      });
      return { ok: true, output: entry.output, fromCache: true };
    };
  }
}
