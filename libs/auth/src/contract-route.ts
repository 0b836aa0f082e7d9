import {
  applyDecorators,
  createParamDecorator,
  HttpCode,
  RequestMapping,
  RequestMethod,
  type ExecutionContext,
} from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { parseRouteInput, routerPath, type ApiRoute, type InputPart } from '#libs/api-contract';
import { ProblemError, Public, type ProblemCode } from '#libs/platform';
import { Requires } from './api-key.guard.js';

const METHODS = { get: RequestMethod.GET, post: RequestMethod.POST, delete: RequestMethod.DELETE } as const;

/** Serves a route of the API contract: its method and path, its success status, and who may call it. */
export const ServesRoute = (route: ApiRoute) =>
  applyDecorators(
    RequestMapping({ path: routerPath(route), method: METHODS[route.method] }),
    HttpCode(route.status),
    route.access === 'public' ? Public() : Requires(route.access),
  );

/** A path that names nothing is "not found"; a bad query or header is malformed; a bad body field is invalid. */
const PROBLEM_OF: Record<InputPart, ProblemCode> = {
  params: 'not_found',
  headers: 'malformed_request',
  query: 'malformed_request',
  body: 'validation_failed',
};

/**
 * The request's params, query, headers and body, validated by the route's schemas; problem+json when they are not.
 * Runs after the guard, so an unauthenticated caller learns nothing about the shape of a request.
 */
export const Input = createParamDecorator((route: ApiRoute, context: ExecutionContext) => {
  const request = context.switchToHttp().getRequest<FastifyRequest>();
  const parsed = parseRouteInput(route, {
    params: request.params,
    query: request.query,
    headers: request.headers,
    body: request.body,
  });
  if (parsed.ok) return parsed.value;
  const code = parsed.part === 'body' && !parsed.errors.length ? 'malformed_request' : PROBLEM_OF[parsed.part];
  throw new ProblemError(code, parsed.detail, parsed.errors.length > 1 ? parsed.errors : undefined);
});
