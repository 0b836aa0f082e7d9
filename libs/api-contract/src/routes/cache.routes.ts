import { z } from 'zod';
import { CACHEABLE_NODE_TYPES } from '#libs/workflows';
import { limitQuery, nextLink, timestamp, uuid, uuidQuery } from '../common.js';
import { EXAMPLE_IDS } from '../example-ids.js';
import { defineRoute } from '../route.js';

const nodeType = z
  .enum(CACHEABLE_NODE_TYPES, { error: `must be one of ${CACHEABLE_NODE_TYPES.join(', ')}` })
  .optional();
const ownWorkspace = uuidQuery('Must be the key’s own workspace (the default).').optional();

const hitRate = {
  lookups: z.int().nullable().meta({ description: 'Lookups counted by the cache (null: its Redis did not answer).' }),
  hits: z.int(),
  misses: z.int().nullable(),
  hitRate: z.number().nullable().meta({ description: 'hits / lookups, 0 to 1; null without lookups.' }),
  savedMs: z.number(),
};

export const cacheHitSchema = z
  .object({
    runId: uuid,
    nodeId: z.string(),
    attempt: z.int(),
    nodeType: z.string(),
    fromRunId: uuid,
    fromNodeId: z.string(),
    producedAt: timestamp,
    hitAt: timestamp,
    savedMs: z.number(),
    match: z.enum(['exact', 'semantic']),
    similarity: z.number().nullable(),
  })
  .meta({ id: 'CacheHit' });

export const listCacheHits = defineRoute({
  operationId: 'listCacheHits',
  method: 'get',
  path: '/v1/cache/hits',
  tag: 'cache',
  summary: 'Node outputs of the workspace served from the cache, newest first',
  access: 'read',
  query: z.object({
    runId: uuidQuery('Only hits in this run.').optional(),
    fromRunId: uuidQuery('Only hits served from this run’s outputs.').optional(),
    nodeType,
    after: z.string().max(500).optional().meta({ description: "The previous page's cursor (from its next link)." }),
    limit: limitQuery,
  }),
  status: 200,
  response: { description: 'A page of hits.', schema: z.object({ hits: z.array(cacheHitSchema), next: nextLink }) },
  problems: [400],
  example: { query: { nodeType: 'function' } },
});

export const getCacheStats = defineRoute({
  operationId: 'getCacheStats',
  method: 'get',
  path: '/v1/cache/stats',
  tag: 'cache',
  summary: 'Hits, lookups, hit rate, time and estimated cost saved',
  access: 'read',
  query: z.object({
    workspaceId: ownWorkspace,
    since: z.string().optional().meta({ description: 'ISO 8601; 24 h ago by default, at most 30 days back.' }),
  }),
  status: 200,
  response: {
    description: 'The window from a full hour to now.',
    schema: z
      .object({
        ...hitRate,
        workspaceId: uuid,
        since: timestamp,
        until: timestamp,
        tokensSaved: z.object({ prompt: z.number(), completion: z.number() }),
        estimatedCostSaved: z.number(),
        unpricedModels: z.array(z.string()),
        byNodeType: z.array(z.object({ ...hitRate, nodeType: z.string() })),
        byModel: z.array(
          z.object({
            model: z.string(),
            hits: z.int(),
            promptTokens: z.number(),
            completionTokens: z.number(),
            costSaved: z.number().nullable(),
          }),
        ),
        byMatch: z.array(z.object({ match: z.string(), hits: z.int(), savedMs: z.number() })),
      })
      .meta({ id: 'CacheStats' }),
  },
  problems: [400],
  example: { query: { workspaceId: EXAMPLE_IDS.workspace } },
});

export const purgeCache = defineRoute({
  operationId: 'purgeCache',
  method: 'delete',
  path: '/v1/cache/entries',
  tag: 'cache',
  summary: "Delete the workspace's cached node results (and its semantic cache entries)",
  access: 'admin',
  query: z.object({ workspaceId: ownWorkspace, nodeType }),
  status: 200,
  response: {
    description: '`deleted` counts exact entries in Redis and semantic ones in the vector database.',
    schema: z.object({
      workspaceId: uuid,
      nodeType: z.string().nullable(),
      deleted: z.int(),
      exact: z.int(),
      semantic: z.int().nullable(),
    }),
  },
  problems: [400],
  example: { query: { nodeType: 'http_request' } },
});

export const CACHE_ROUTES = [listCacheHits, getCacheStats, purgeCache] as const;
