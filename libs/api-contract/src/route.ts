import type { z } from 'zod';
import type { ProblemStatus } from './problems.js';

/**
 * Who may call a route: anyone, a key of at least this permission in the workspace, or `operator`: an admin key of an
 * operators' workspace, for what spans every workspace (consumer lag, the outbox, dead letters).
 */
export type Access = 'public' | 'read' | 'write' | 'admin' | 'operator';

/** A request the document shows and the conformance check sends. Ids are the example ids of `example-ids.ts`. */
export interface RouteExample {
  readonly params?: Readonly<Record<string, string>>;
  readonly query?: Readonly<Record<string, string>>;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: unknown;
}

/**
 * One HTTP route, declared once: the API validates requests with these schemas, the OpenAPI document is generated
 * from them, and the typed client from the document.
 */
export interface ApiRoute {
  readonly operationId: string;
  readonly method: 'get' | 'post' | 'delete';
  /** OpenAPI style: `/v1/runs/{id}`. */
  readonly path: `/${string}`;
  readonly tag: string;
  readonly summary: string;
  readonly description?: string;
  readonly access: Access;
  readonly params?: z.ZodObject;
  readonly query?: z.ZodObject;
  readonly headers?: z.ZodObject;
  readonly body?: z.ZodType;
  /** A body that may be left out (then it is read as `{}`). */
  readonly bodyOptional?: boolean;
  readonly status: 200 | 201 | 202 | 204;
  /** The success response; no schema: no body. */
  readonly response: {
    readonly description: string;
    readonly schema?: z.ZodType;
    readonly contentType?: string;
    /** Response headers worth documenting (Location is in the description). */
    readonly headers?: z.ZodObject;
  };
  /** Answers 304 to an If-None-Match that matches its ETag. */
  readonly notModified?: boolean;
  /** Failures worth documenting besides the ones every route has (401, 403, 429, 500, 503 where access is needed). */
  readonly problems?: readonly ProblemStatus[];
  readonly example?: RouteExample;
}

export const defineRoute = <const R extends ApiRoute>(route: R): R => route;

type Out<S> = S extends z.ZodType ? z.output<S> : Record<string, never>;

/** What a handler receives: the request's parts, validated and typed by the route's schemas. */
export interface RouteInput<R extends ApiRoute> {
  readonly params: Out<R['params']>;
  readonly query: Out<R['query']>;
  readonly headers: Out<R['headers']>;
  readonly body: R['body'] extends z.ZodType ? z.output<R['body']> : undefined;
}

/** What a handler returns for the success response (void when it has no body). */
export type RouteOutput<R extends ApiRoute> = R['response']['schema'] extends z.ZodType
  ? z.input<R['response']['schema']>
  : void;

/** The path as NestJS and Fastify spell it (`v1/runs/:id`). */
export const routerPath = (route: Pick<ApiRoute, 'path'>): string => route.path.slice(1).replace(/\{(\w+)\}/g, ':$1');
