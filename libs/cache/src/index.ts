export {
  canonicalDigest,
  hourBucket,
  lookupCounterKey,
  nodeCacheKey,
  workspaceSlot,
  type NodeCacheKey,
  type NodeCacheKeyParts,
} from './cache-key.js';
export { countLookups, entryPattern, escapeGlob, purgeEntries } from './cache-maintenance.js';
export {
  cacheDecision,
  DEFAULT_TTL_MS,
  type BypassReason,
  type CacheCandidate,
  type CacheDecision,
  type CachePolicySettings,
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
