import type { WorkspaceCachePolicy } from '#libs/config';
import { isCacheableNodeType, type CacheableNodeType } from '#libs/workflows';
import { PERMISSIONS, type Permission } from '../../auth/src/principal.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * How long a result stays cached by default, per node type: a function of its inputs does not change, an HTTP
 * resource does; an agent node's answer to the exact same prompt is kept as long as a function's.
 */
export const DEFAULT_TTL_MS: Readonly<Record<CacheableNodeType, number>> = {
  function: 7 * DAY_MS,
  http_request: HOUR_MS,
  agent: 7 * DAY_MS,
};

/**
 * HTTP methods whose results are cached unless the node says otherwise. Every other method (POST, PUT, PATCH,
 * DELETE) is cached only when the node opts in with `cache.enabled: true`: a hit skips the request, and with it the
 * change the request makes. PUT and DELETE are idempotent in HTTP's sense, but a run that deletes or replaces
 * something must still do so when an earlier run did the same before (the thing may have been re-created since).
 */
const CACHED_METHODS = new Set(['GET', 'HEAD']);

export interface CachePolicySettings {
  /** CACHE_ENABLED */
  readonly enabled: boolean;
  /** CACHE_WORKSPACE_POLICIES, by lower-case workspace id */
  readonly workspaces: ReadonlyMap<string, WorkspaceCachePolicy>;
}

/** A node attempt as the policy sees it. */
export interface CacheCandidate {
  readonly workspaceId: string;
  readonly permission: string | null;
  readonly nodeType: string;
  readonly config: Readonly<Record<string, unknown>>;
  /**
   * Computing the result costs less than a cache round trip (a `function` node whose expression only reads and
   * combines a few fields: ExpressionEvaluator.isBounded).
   */
  readonly cheap?: boolean;
  /** The node definition's own `cache` setting. */
  readonly node: {
    readonly enabled?: boolean | null;
    readonly ttlMs?: number | null;
    readonly semantic?: boolean | null;
    readonly similarity?: number | null;
    readonly semanticTtlMs?: number | null;
  } | null;
}

export type BypassReason =
  'off' | 'node_type' | 'node_off' | 'workspace_off' | 'http_method' | 'cheap' | 'unknown_permission';

export type CacheDecision =
  | {
      readonly cache: true;
      readonly ttlMs: number;
      readonly nodeType: CacheableNodeType;
      /** The run's permission, part of the key. */
      readonly permission: Permission;
    }
  | { readonly cache: false; readonly reason: BypassReason };

/**
 * Whether a node attempt goes through the cache, and for how long its result is kept. What turns the cache off wins
 * over what turns it on: CACHE_ENABLED=false, then the node's `enabled: false`, then the workspace's policy (off, or
 * a TTL of 0 for the node type). A node's `enabled: true` only opts in where the default is off (HTTP methods other
 * than GET and HEAD, and function nodes cheaper to compute than to look up: in the run benchmark the lookup and the
 * write of three such nodes were a fifth of the CPU a run costs, for results a few field reads recompute). The
 * lifetime is the node's `ttlMs`, else the workspace's for the type, else the type's default.
 * A run whose permission is not known (started before it was recorded) bypasses the cache: it could not be kept apart.
 */
export function cacheDecision(candidate: CacheCandidate, settings: CachePolicySettings): CacheDecision {
  const { nodeType, node } = candidate;
  if (!isCacheableNodeType(nodeType)) return { cache: false, reason: 'node_type' };
  if (!settings.enabled) return { cache: false, reason: 'off' };
  if (node?.enabled === false) return { cache: false, reason: 'node_off' };
  const permission = PERMISSIONS.find((p) => p === candidate.permission);
  if (permission === undefined) return { cache: false, reason: 'unknown_permission' };
  const workspace = settings.workspaces.get(candidate.workspaceId.toLowerCase());
  const workspaceTtl = workspace?.ttlMs?.[nodeType];
  if (workspace?.enabled === false || workspaceTtl === 0) return { cache: false, reason: 'workspace_off' };
  if (nodeType === 'http_request' && node?.enabled !== true) {
    const { method } = candidate.config;
    if (typeof method !== 'string' || !CACHED_METHODS.has(method.toUpperCase())) {
      return { cache: false, reason: 'http_method' };
    }
  }
  if (candidate.cheap === true && node?.enabled !== true) return { cache: false, reason: 'cheap' };
  return { cache: true, nodeType, permission, ttlMs: node?.ttlMs ?? workspaceTtl ?? DEFAULT_TTL_MS[nodeType] };
}

export interface SemanticPolicySettings extends CachePolicySettings {
  /** SEMANTIC_CACHE_ENABLED, and an embeddings API configured */
  readonly semantic: boolean;
  /** SEMANTIC_CACHE_SIMILARITY */
  readonly similarity: number;
  /** SEMANTIC_CACHE_TTL_MS */
  readonly ttlMs: number;
}

export type SemanticDecision =
  | { readonly semantic: true; readonly similarity: number; readonly ttlMs: number; readonly permission: Permission }
  | { readonly semantic: false; readonly reason: BypassReason };

/**
 * Whether an agent attempt goes through the semantic cache, from what threshold and for how long. Whatever keeps it
 * out of the exact cache keeps it out of this one too (the cache off, the node's `enabled: false`, the workspace's
 * policy, an unknown permission); besides, SEMANTIC_CACHE_ENABLED=false, the node's `semantic: false` and the
 * workspace's `semanticTtlMs: 0`. The threshold is the node's `similarity`, else SEMANTIC_CACHE_SIMILARITY; the
 * lifetime the node's `semanticTtlMs`, else the workspace's, else SEMANTIC_CACHE_TTL_MS.
 */
export function semanticDecision(candidate: CacheCandidate, settings: SemanticPolicySettings): SemanticDecision {
  if (candidate.nodeType !== 'agent') return { semantic: false, reason: 'node_type' };
  const exact = cacheDecision(candidate, settings);
  if (!exact.cache) return { semantic: false, reason: exact.reason };
  const { node } = candidate;
  if (!settings.semantic || node?.semantic === false) return { semantic: false, reason: 'off' };
  const workspaceTtl = settings.workspaces.get(candidate.workspaceId.toLowerCase())?.semanticTtlMs;
  if (workspaceTtl === 0) return { semantic: false, reason: 'workspace_off' };
  return {
    semantic: true,
    permission: exact.permission,
    similarity: node?.similarity ?? settings.similarity,
    ttlMs: node?.semanticTtlMs ?? workspaceTtl ?? settings.ttlMs,
  };
}
