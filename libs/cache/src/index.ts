export {
  canonicalDigest,
  hourBucket,
  lookupCounterKey,
  nodeCacheKey,
  semanticScope,
  workspaceSlot,
  type NodeCacheKey,
  type NodeCacheKeyParts,
  type SemanticScopeParts,
} from './cache-key.js';
export { countLookups, entryPattern, escapeGlob, purgeEntries } from './cache-maintenance.js';
export {
  cacheDecision,
  DEFAULT_TTL_MS,
  semanticDecision,
  type BypassReason,
  type CacheCandidate,
  type CacheDecision,
  type CachePolicySettings,
  type SemanticDecision,
  type SemanticPolicySettings,
} from './cache-policy.js';
export { NodeCacheMetrics, type LookupMetricOutcome } from './node-cache-metrics.js';
export {
  NodeResultCache,
  type CacheEntry,
  type CacheRequest,
  type LookupOutcome,
  type NodeResult,
  type NodeResultCacheOptions,
  type Served,
  type WaitOutcome,
  type WriteOutcome,
} from './node-result-cache.js';
export { LOOKUP_COUNTER_TTL_MS, RedisCacheStore, SETTLED } from './redis-cache-store.js';
export { containsCardNumber, luhnValid, sensitiveDataCheck, type SensitiveDataCheck } from './sensitive-data.js';
export {
  SemanticCache,
  type Embed,
  type SemanticCacheOptions,
  type SemanticHit,
  type SemanticLookupOutcome,
  type SemanticRequest,
  type SemanticServed,
} from './semantic-cache.js';
export {
  SEMANTIC_SESSION_OPTIONS,
  SemanticCacheStore,
  type SemanticNeighbour,
  type SemanticScope,
  type SemanticWrite,
} from './semantic-cache-store.js';
export { openSemanticCacheStore, semanticCacheOn } from './semantic-cache-pool.js';
