/**
 * The workflow definition model of API.md ("Workflow definition"). These types describe a definition that has passed
 * `validateDefinition`; anything arriving from outside is `unknown` until then.
 */

import { NodeTypeValues, type NodeType } from '../../events/src/generated/event-types.js';

/**
 * The node types the platform can run: the NodeType enum of schemas/node-dispatch.avsc, read from the generated
 * declarations themselves (a module without imports), so this library stays free of the codec and Kafka client code
 * and usable in a browser.
 */
export const NODE_TYPES = NodeTypeValues;
export type { NodeType };

export interface WorkflowDefinition {
  nodes: Record<string, NodeDefinition>;
  edges: EdgeDefinition[];
}

export interface NodeDefinition {
  type: NodeType;
  /** Shape depends on `type`: see {@link NodeConfigs}. */
  config: Record<string, unknown>;
  timeoutMs?: number;
  retry?: { maxAttempts: number; backoffMs: number };
  /** The node result cache for this node (function, http_request and agent nodes only); absent: the defaults. */
  cache?: NodeCacheOptions;
}

/**
 * `enabled: false` keeps the node's results out of the cache; `enabled: true` caches them where the default is off
 * (http_request with POST, PUT, PATCH or DELETE). `ttlMs` replaces the node type's (and the workspace's) lifetime.
 * Agent nodes only: `semantic: false` keeps the node out of the semantic cache, `similarity` replaces its threshold and
 * `semanticTtlMs` its lifetime.
 */
export interface NodeCacheOptions {
  enabled?: boolean;
  ttlMs?: number;
  semantic?: boolean;
  similarity?: number;
  semanticTtlMs?: number;
}

export interface EdgeDefinition {
  from: string;
  to: string;
  /** JSONata boolean over `{input, nodes}`; the edge is satisfied only when it evaluates truthy. */
  when?: string;
}

export interface DefinitionOptions {
  /** hosts (exact hostnames or IP literals) an http_request node may target even though they are loopback/private/link-local/metadata */
  allowedHosts?: readonly string[];
  /** The most bytes a definition's JSON text (UTF-8) may take; also bounds what one patch may copy. */
  maxBytes?: number;
  /** The deepest a definition may nest (`{}` is 1 deep). */
  maxDepth?: number;
}

export const DEFAULT_DEFINITION_MAX_BYTES = 1_048_576;
export const DEFAULT_DEFINITION_MAX_DEPTH = 64;

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; errors: string[] };

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** What `config` holds for each node type once validated, for executors that want to read it typed. */
export interface NodeConfigs {
  function: { expression: string };
  http_request: {
    method: HttpMethod;
    url: string;
    headers?: Record<string, string>;
    body?: unknown;
    maxResponseBytes?: number;
  };
  agent: { model: string; prompt: string; temperature?: number; maxTokens?: number; system?: string };
  hitl: { prompt: string; approvers?: string[] };
  delay: { ms: number };
}
