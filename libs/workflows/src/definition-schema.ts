import type { SchemaObject } from 'ajv';
import { HTTP_METHODS, NODE_TYPES, type NodeType } from './workflow-definition.js';

/**
 * The JSON Schema of a workflow definition's shape (API.md, "Workflow definition"). It says nothing about meaning:
 * JSONata, URL targets and the graph are checked in code (validate-definition.ts, graph-checks.ts).
 */

export const MAX_NODES = 500;
export const MAX_EDGES = 2000;
export const NODE_ID_PATTERN = '^[A-Za-z_][A-Za-z0-9_-]{0,63}$';
/**
 * Ids that name `Object.prototype` machinery. A node called `__proto__` or `constructor` turns every
 * `nodes[id]` lookup downstream (run state, JSONata `{nodes}`) into a prototype-pollution or confusion hazard, and
 * rfc6902 silently skips these tokens in JSON Pointers, so patches could not address such a node anyway.
 */
export const RESERVED_NODE_IDS = ['__proto__', 'constructor', 'prototype'] as const;

const nonEmptyString = { type: 'string', minLength: 1 } as const;
const int = (minimum: number, maximum?: number) =>
  maximum === undefined ? { type: 'integer', minimum } : { type: 'integer', minimum, maximum };

const closedObject = (properties: Record<string, SchemaObject>, required: string[]): SchemaObject => ({
  type: 'object',
  properties,
  required,
  additionalProperties: false,
});

/** `config` per node type: closed objects, so a typo such as `expresion` is an error rather than ignored. */
export const nodeConfigSchemas: Record<NodeType, SchemaObject> = {
  function: closedObject({ expression: nonEmptyString }, ['expression']),
  http_request: closedObject(
    {
      method: { enum: [...HTTP_METHODS] },
      url: nonEmptyString,
      headers: { type: 'object', additionalProperties: { type: 'string' } },
      body: {},
      maxResponseBytes: int(1),
    },
    ['method', 'url'],
  ),
  agent: closedObject(
    {
      model: nonEmptyString,
      prompt: nonEmptyString,
      temperature: { type: 'number', minimum: 0, maximum: 2 },
      maxTokens: int(1, 200_000),
      system: { type: 'string' },
    },
    ['model', 'prompt'],
  ),
  hitl: closedObject({ prompt: nonEmptyString, approvers: { type: 'array', items: nonEmptyString } }, ['prompt']),
  delay: closedObject({ ms: int(0, 2_592_000_000) }, ['ms']),
};

/** The longest a node's result may stay in the node result cache (30 days). */
export const MAX_CACHE_TTL_MS = 2_592_000_000;

/** Node types whose results the node result cache may keep: a human decision or a timer is never replayed from it. */
export const CACHEABLE_NODE_TYPES = ['function', 'http_request', 'agent'] as const satisfies readonly NodeType[];
export type CacheableNodeType = (typeof CACHEABLE_NODE_TYPES)[number];
export const isCacheableNodeType = (type: string): type is CacheableNodeType =>
  (CACHEABLE_NODE_TYPES as readonly string[]).includes(type);

/**
 * The lowest similarity a node may ask for: below it "similar" prompts are different questions, and a shared answer
 * would be wrong more often than right.
 */
export const MIN_SEMANTIC_SIMILARITY = 0.5;

/** A node's `cache` block; agent nodes also set the semantic cache (answers to similar prompts). */
const cacheSchema = (type: CacheableNodeType): SchemaObject =>
  closedObject(
    {
      enabled: { type: 'boolean' },
      ttlMs: int(1, MAX_CACHE_TTL_MS),
      ...(type === 'agent'
        ? {
            semantic: { type: 'boolean' },
            similarity: { type: 'number', minimum: MIN_SEMANTIC_SIMILARITY, maximum: 1 },
            semanticTtlMs: int(1, MAX_CACHE_TTL_MS),
          }
        : {}),
    },
    [],
  );

const nodeSchema = (type: NodeType): SchemaObject =>
  closedObject(
    {
      type: { const: type },
      config: nodeConfigSchemas[type],
      timeoutMs: int(1, 86_400_000),
      retry: closedObject({ maxAttempts: int(1, 20), backoffMs: int(0, 3_600_000) }, ['maxAttempts', 'backoffMs']),
      ...(isCacheableNodeType(type) ? { cache: cacheSchema(type) } : {}),
    },
    ['type', 'config'],
  );

export const workflowDefinitionSchema: SchemaObject = {
  type: 'object',
  properties: {
    nodes: {
      type: 'object',
      minProperties: 1,
      maxProperties: MAX_NODES,
      propertyNames: {
        type: 'string',
        pattern: NODE_ID_PATTERN,
        not: { enum: [...RESERVED_NODE_IDS] },
      },
      // `discriminator` validates a node only against the schema its `type` selects, so a bad `config` is reported
      // against that type alone, and an unknown type is one clear error instead of five failed `oneOf` branches.
      additionalProperties: {
        type: 'object',
        required: ['type'],
        discriminator: { propertyName: 'type' },
        oneOf: NODE_TYPES.map(nodeSchema),
      },
    },
    edges: {
      type: 'array',
      maxItems: MAX_EDGES,
      items: closedObject({ from: nonEmptyString, to: nonEmptyString, when: nonEmptyString }, ['from', 'to']),
    },
  },
  required: ['nodes', 'edges'],
  additionalProperties: false,
};
