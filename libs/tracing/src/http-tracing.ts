import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { startSpan, type StartedSpan } from './propagation.js';
import { tracingEnabled } from './tracing.js';

const requestSpans = new WeakMap<FastifyRequest, StartedSpan>();

/**
 * A SERVER span per HTTP request, child of the request's `traceparent` when it has one. The span is made the active
 * context for the route handler (preHandler, after the body is read, so that Nest's handler and everything it awaits
 * run inside it) and ends with the response. Installed only when tracing is on.
 */
export function installHttpTracing(fastify: FastifyInstance): void {
  if (!tracingEnabled()) return;
  fastify.addHook('onRequest', (request, _reply, done) => {
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    const route = request.routeOptions.url;
    const started = startSpan(route ? `${request.method} ${route}` : request.method, {
      kind: SpanKind.SERVER,
      parent,
      attributes: {
        'http.request.method': request.method,
        'url.path': request.url.split('?')[0] ?? request.url,
        ...(route ? { 'http.route': route } : {}),
      },
    });
    if (started) requestSpans.set(request, started);
    if (!started) {
      done();
      return;
    }
    context.with(started.context, done);
  });
  fastify.addHook('preHandler', (request, _reply, done) => {
    const started = requestSpans.get(request);
    if (!started) {
      done();
      return;
    }
    context.with(started.context, done);
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    const started = requestSpans.get(request);
    if (started) {
      started.span.setAttribute('http.response.status_code', reply.statusCode);
      if (reply.statusCode >= 500) started.span.setStatus({ code: SpanStatusCode.ERROR });
      started.span.end();
      requestSpans.delete(request);
    }
    done();
  });
}
