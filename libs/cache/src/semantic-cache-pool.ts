import type { AppConfig } from '#libs/config';
import { createPool, type Pool } from '#libs/db';
import { SEMANTIC_SESSION_OPTIONS, SemanticCacheStore } from './semantic-cache-store.js';

/** Whether the configuration turns the semantic cache on: the caches on, and an embeddings API to compare prompts. */
export const semanticCacheOn = (config: AppConfig): boolean =>
  config.CACHE_ENABLED && config.SEMANTIC_CACHE_ENABLED && config.EMBEDDINGS_BASE_URL !== undefined;

/**
 * The semantic cache's store on a pool of its own (VECTOR_DATABASE_URL), every query bounded by
 * VECTOR_DATABASE_TIMEOUT_MS on the client side: a vector database that is down or does not answer costs a lookup at
 * most that long (plus as long to connect).
 */
export function openSemanticCacheStore(config: AppConfig, name: string): { store: SemanticCacheStore; pool: Pool } {
  const timeoutMs = config.VECTOR_DATABASE_TIMEOUT_MS;
  const pool = createPool(config.VECTOR_DATABASE_URL, {
    name,
    max: config.VECTOR_DATABASE_POOL_MAX,
    queryTimeoutMs: timeoutMs,
    connectionTimeoutMs: Math.max(1_000, timeoutMs),
    startupOptions: SEMANTIC_SESSION_OPTIONS,
  });
  return { store: new SemanticCacheStore(pool, config.EMBEDDINGS_DIMENSIONS), pool };
}
