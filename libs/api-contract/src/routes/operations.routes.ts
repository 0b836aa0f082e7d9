import { z } from 'zod';
import { defineRoute } from '../route.js';

const check = z.object({ ok: z.boolean(), latencyMs: z.number(), error: z.string().optional() });
export const dependencyChecksSchema = z
  .object({ postgres: check, redis: check, kafka: check, schemaRegistry: check })
  .meta({ id: 'DependencyChecks' });

export const health = defineRoute({
  operationId: 'health',
  method: 'get',
  path: '/health',
  tag: 'operations',
  summary: 'Ready when Postgres, Redis, Kafka and the Schema Registry answer',
  access: 'public',
  status: 200,
  response: {
    description: 'Every dependency answered.',
    schema: z.object({ status: z.literal('ok'), roles: z.array(z.string()), checks: dependencyChecksSchema }),
  },
  problems: [503],
  example: {},
});

export const livez = defineRoute({
  operationId: 'livez',
  method: 'get',
  path: '/livez',
  tag: 'operations',
  summary: 'The process is alive (its event loop answers); restart it when this fails',
  access: 'public',
  status: 200,
  response: { description: 'Alive.', schema: z.object({ status: z.literal('alive') }) },
  example: {},
});

export const readyz = defineRoute({
  operationId: 'readyz',
  method: 'get',
  path: '/readyz',
  tag: 'operations',
  summary: 'Send traffic here: dependencies reachable, consumers joined, not draining',
  access: 'public',
  status: 200,
  response: {
    description: 'Ready.',
    schema: z.object({
      status: z.literal('ready'),
      roles: z.array(z.string()),
      checks: dependencyChecksSchema,
      consumers: z
        .array(z.object({ name: z.string(), joined: z.boolean() }))
        .meta({ description: "This process's consumer groups and whether each has joined." }),
      draining: z.boolean(),
    }),
  },
  problems: [503],
  example: {},
});

export const metrics = defineRoute({
  operationId: 'metrics',
  method: 'get',
  path: '/metrics',
  tag: 'operations',
  summary: 'Prometheus metrics (loopback callers or METRICS_TOKEN)',
  access: 'public',
  status: 200,
  response: { description: 'The text exposition format.', schema: z.string(), contentType: 'text/plain' },
  problems: [403],
  example: {},
});

export const openApi = defineRoute({
  operationId: 'openApiDocument',
  method: 'get',
  path: '/v1/openapi.json',
  tag: 'operations',
  summary: 'This document',
  access: 'public',
  status: 200,
  response: { description: 'OpenAPI 3.1.', schema: z.looseObject({ openapi: z.string() }) },
  example: {},
});

export const apiReference = defineRoute({
  operationId: 'apiReference',
  method: 'get',
  path: '/v1/docs',
  tag: 'operations',
  summary: 'A browsable reference of this document',
  access: 'public',
  status: 200,
  response: { description: 'An HTML page.', schema: z.string(), contentType: 'text/html' },
  example: {},
});

/** The reference page's script and stylesheet (Swagger UI, served from the API so the page works offline). */
export const API_REFERENCE_ASSETS = ['swagger-ui-bundle.js', 'swagger-ui.css'] as const;

export const apiReferenceAsset = defineRoute({
  operationId: 'apiReferenceAsset',
  method: 'get',
  path: '/v1/docs/{asset}',
  tag: 'operations',
  summary: "The reference page's script and stylesheet",
  access: 'public',
  params: z.object({ asset: z.enum(API_REFERENCE_ASSETS, { error: 'no such asset' }) }),
  status: 200,
  response: { description: 'JavaScript or CSS.', schema: z.string(), contentType: 'application/javascript' },
  problems: [404],
  example: { params: { asset: 'swagger-ui.css' } },
});

export const consolePage = defineRoute({
  operationId: 'consolePage',
  method: 'get',
  path: '/',
  tag: 'operations',
  summary: 'The web console (a single-page app; it signs in with an API key of its own)',
  access: 'public',
  status: 200,
  response: { description: 'The console page.', schema: z.string(), contentType: 'text/html' },
  problems: [404],
  example: {},
});

export const consoleAsset = defineRoute({
  operationId: 'consoleAsset',
  method: 'get',
  path: '/console/{file}',
  tag: 'operations',
  summary: "The console's scripts, Web Worker and stylesheet (content-hashed names, cached for good)",
  access: 'public',
  params: z.object({
    file: z.string().regex(/^[\w.-]+\.(js|css|map)$/, { error: 'no such file' }),
  }),
  status: 200,
  response: { description: 'JavaScript, CSS or a source map.', schema: z.string(), contentType: 'text/css' },
  problems: [404],
  example: { params: { file: 'styles.css' } },
});

export const OPERATION_ROUTES = [
  health,
  livez,
  readyz,
  metrics,
  openApi,
  apiReference,
  apiReferenceAsset,
  consolePage,
  consoleAsset,
] as const;
