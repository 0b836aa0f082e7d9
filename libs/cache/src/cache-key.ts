import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';

/** What identifies a node result: identical parts (as JSON values, whatever their key order) give the same key. */
export interface NodeCacheKeyParts {
  readonly workspaceId: string;
  /** The permission the run was started with: results are kept and served per permission. */
  readonly permission: string;
  readonly nodeType: string;
  /** The node's config, as the definition holds it. */
  readonly config: unknown;
  /** What the node's executor reads besides its config (its resolved inputs). */
  readonly inputs: unknown;
}

/** The Redis keys of one node result: the entry, and the single-flight lease of those computing it. */
export interface NodeCacheKey {
  /** sha256 hex of the parts. */
  readonly digest: string;
  readonly entry: string;
  readonly lease: string;
  /** The workspace's part of every key: `<prefix>cache:{ws:<id>}` (its Redis Cluster hash tag). */
  readonly slot: string;
  readonly nodeType: string;
}

/** Bumped when what goes into the key or the entry changes, so old entries are never read as new ones. */
const KEY_VERSION = 1;

/**
 * sha256 of a JSON value's canonical form (RFC 8785, JSON Canonicalization Scheme: keys sorted by UTF-16 code units,
 * numbers and strings in one spelling), so `{"a":1,"b":2}` and `{"b":2,"a":1}` hash alike. `undefined` counts as null.
 */
export function canonicalDigest(value: unknown): string {
  return createHash('sha256')
    .update(canonicalize(value) ?? 'null')
    .digest('hex');
}

/**
 * The key of a node result. The config and the inputs enter by their canonical digests; workspace, permission and node
 * type in clear, so two workspaces or permissions never share a key. Every key of a workspace carries the hash tag
 * `{ws:<id>}`: on Redis Cluster an entry and its lease are in one slot (one script may touch both), and a workspace's
 * entries can be found together. The entry key names the node type in clear (`…:node:<type>:<digest>`), so one type's
 * entries of a workspace can be found by pattern (purged) without reading them.
 */
export function nodeCacheKey(prefix: string, parts: NodeCacheKeyParts): NodeCacheKey {
  const digest = createHash('sha256')
    .update(
      canonicalize({
        v: KEY_VERSION,
        workspaceId: parts.workspaceId,
        permission: parts.permission,
        nodeType: parts.nodeType,
        config: canonicalDigest(parts.config),
        inputs: canonicalDigest(parts.inputs),
      }) as string,
    )
    .digest('hex');
  const slot = workspaceSlot(prefix, parts.workspaceId);
  return {
    digest,
    entry: `${slot}:node:${parts.nodeType}:${digest}`,
    lease: `${slot}:lease:${digest}`,
    slot,
    nodeType: parts.nodeType,
  };
}

/** The prefix of every cache key of a workspace, hash tag included. */
export function workspaceSlot(prefix: string, workspaceId: string): string {
  return `${prefix}cache:{ws:${workspaceId}}`;
}

/**
 * The key of a workspace's lookup counters for the hour that `at` (epoch ms) falls in: a hash of node type → lookups.
 * Counted by the lookup itself (same hash tag, same script), read by the cache's stats.
 */
export function lookupCounterKey(slot: string, at: number): string {
  return `${slot}:lookups:${hourBucket(at)}`;
}

/** `2026-12-02T01` (UTC): the hour that `at` (epoch ms) falls in. */
export function hourBucket(at: number): string {
  return new Date(at).toISOString().slice(0, 13);
}

/** What besides the prompt decides an agent's answer: answers are shared only between equal ones. */
export interface SemanticScopeParts {
  readonly model: string;
  readonly system?: string | undefined;
  /** Another temperature is another distribution of answers; another maxTokens may cut the answer elsewhere. */
  readonly temperature?: number | undefined;
  readonly maxTokens?: number | undefined;
  /** Vectors of another embedding model (or length) are not comparable. */
  readonly embeddingModel: string;
  readonly dimensions: number;
}

/** sha256 of the scope parts (canonical JSON; an absent system prompt, temperature or maxTokens counts as null). */
export function semanticScope(parts: SemanticScopeParts): string {
  return canonicalDigest({
    v: KEY_VERSION,
    model: parts.model,
    system: parts.system ?? null,
    temperature: parts.temperature ?? null,
    maxTokens: parts.maxTokens ?? null,
    embeddingModel: parts.embeddingModel,
    dimensions: parts.dimensions,
  });
}
