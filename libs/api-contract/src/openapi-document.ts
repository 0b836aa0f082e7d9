import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject } from 'zod-openapi';
import { API_ROUTES } from './api-routes.js';
import { codesWithStatus, PROBLEM_TITLES, problemSchema, type ProblemStatus } from './problems.js';
import type { ApiRoute } from './route.js';

export type OpenApiDocument = ReturnType<typeof createDocument>;

/** Failures any route with a key can answer: no or a bad key, too weak a key, rate limits, a dependency down. */
const KEYED_PROBLEMS: readonly ProblemStatus[] = [401, 403, 429, 503];

function problemResponses(route: ApiRoute): ZodOpenApiOperationObject['responses'] {
  const statuses = new Set([...(route.access === 'public' ? [] : KEYED_PROBLEMS), ...(route.problems ?? [])]);
  return Object.fromEntries(
    [...statuses].sort().map((status) => [
      String(status),
      {
        description: codesWithStatus(status)
          .map((code) => PROBLEM_TITLES[code])
          .join('; '),
        content: { 'application/problem+json': { schema: problemSchema } },
      },
    ]),
  );
}

function operation(route: ApiRoute): ZodOpenApiOperationObject {
  const { response } = route;
  return {
    operationId: route.operationId,
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    tags: [route.tag],
    security: route.access === 'public' ? [] : [{ apiKey: [] }],
    'x-permission': route.access,
    requestParams: {
      ...(route.params ? { path: route.params } : {}),
      ...(route.query ? { query: route.query } : {}),
      ...(route.headers ? { header: route.headers } : {}),
    },
    ...(route.body
      ? {
          requestBody: {
            required: !route.bodyOptional,
            content: {
              'application/json': {
                schema: route.body,
                ...(route.example?.body === undefined ? {} : { example: route.example.body }),
              },
            },
          },
        }
      : {}),
    responses: {
      [String(route.status)]: {
        description: response.description,
        ...(response.headers ? { headers: response.headers } : {}),
        ...(response.schema
          ? { content: { [response.contentType ?? 'application/json']: { schema: response.schema } } }
          : {}),
      },
      ...(route.notModified ? { '304': { description: 'Not modified since the ETag sent as If-None-Match.' } } : {}),
      ...problemResponses(route),
    },
    ...(route.example ? { 'x-example-request': route.example } : {}),
  };
}

/** The OpenAPI 3.1 document of the HTTP API, generated from the same route schemas the API validates with. */
export function openApiDocument(routes: readonly ApiRoute[] = API_ROUTES): OpenApiDocument {
  const paths: ZodOpenApiPathsObject = {};
  for (const route of routes) paths[route.path] = { ...paths[route.path], [route.method]: operation(route) };
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'Orchestrator API',
      version: '1',
      description:
        'Workflows are changed by JSON Patch (202, materialized asynchronously); runs are started with 202 and followed ' +
        'by GET or Server-Sent Events. Errors are RFC 7807 problem+json.',
    },
    servers: [{ url: 'http://127.0.0.1:8080', description: 'npm start' }],
    tags: [
      { name: 'workflows', description: 'Definitions, versions and patches' },
      { name: 'runs', description: 'Starting, reading, cancelling and approving runs' },
      { name: 'events', description: 'Server-Sent Events streams' },
      { name: 'api-keys', description: 'Keys of the caller’s workspace (admin)' },
      { name: 'cache', description: 'The node result cache' },
      { name: 'operations', description: 'Health, readiness, metrics and this document' },
      {
        name: 'operator',
        description:
          "Every workspace's plumbing: consumer lag, the outbox, dead letters (admin keys of an operators' workspace)",
      },
    ],
    paths,
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'An API key: `Authorization: Bearer <key>`.' },
      },
    },
  });
}
