import { Catch, HttpException, Inject, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { throwError, type Observable } from 'rxjs';
import type { Logger } from 'pino';
import { isDependencyUnavailable } from './dependency-errors.js';
import { problemBody, ProblemError, type ProblemCode } from './problems.js';
import { LOGGER } from './tokens.js';

/** Fastify's own request errors (raised before a handler runs) mapped onto the closed set. */
const FASTIFY_CODES: Record<string, ProblemCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed_request',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'malformed_request',
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_request',
};

const HTTP_CODES: Record<number, ProblemCode> = {
  400: 'malformed_request',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not_found',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'validation_failed',
  429: 'rate_limited',
  503: 'dependency_unavailable',
};

/** Every error leaves the HTTP edge as application/problem+json; unexpected ones are logged and told apart by id. */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  constructor(@Inject(LOGGER) private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): Observable<never> | undefined {
    // Filters registered for the app also see the Kafka transports' handlers: their errors must reach the transport
    // unchanged, whose retry and dead-letter decisions depend on them (a Postgres 40001 is retried, not dead-lettered).
    if (host.getType() !== 'http') return throwError(() => exception);
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const request = http.getRequest<FastifyRequest>();
    const { code, detail, errors } = this.classify(exception, request);
    const body = problemBody(code, detail, request.url, errors);
    if (exception instanceof ProblemError) {
      if (exception.cause !== undefined) {
        this.logger.warn({ err: exception.cause, code, method: request.method, url: request.url }, detail);
      }
      if (exception.retryAfterSeconds !== undefined)
        void reply.header('retry-after', String(Math.max(1, Math.ceil(exception.retryAfterSeconds))));
    }
    void reply.status(body.status).header('content-type', 'application/problem+json').send(body);
    return undefined;
  }

  private classify(
    exception: unknown,
    request: FastifyRequest,
  ): { code: ProblemCode; detail: string; errors?: readonly string[] } {
    if (exception instanceof ProblemError) {
      return {
        code: exception.code,
        detail: exception.detail,
        ...(exception.errors ? { errors: exception.errors } : {}),
      };
    }
    const fastifyCode = (exception as { code?: unknown }).code;
    if (typeof fastifyCode === 'string' && FASTIFY_CODES[fastifyCode]) {
      return { code: FASTIFY_CODES[fastifyCode], detail: (exception as Error).message };
    }
    if (exception instanceof SyntaxError && (exception as { statusCode?: number }).statusCode === 400) {
      return { code: 'malformed_request', detail: `body is not valid JSON: ${exception.message}` };
    }
    if (exception instanceof HttpException) {
      const mapped = HTTP_CODES[exception.getStatus()];
      if (mapped) return { code: mapped, detail: exception.message };
    }
    const statusCode = (exception as { statusCode?: unknown }).statusCode;
    if (typeof statusCode === 'number' && HTTP_CODES[statusCode]) {
      return { code: HTTP_CODES[statusCode], detail: (exception as Error).message };
    }
    if (isDependencyUnavailable(exception)) {
      // The cause goes to the log, not to the client (it names hosts, ports and tables).
      this.logger.warn({ err: exception, method: request.method, url: request.url }, 'dependency unavailable');
      return { code: 'dependency_unavailable', detail: 'a dependency is unavailable; retry shortly' };
    }
    this.logger.error({ err: exception, method: request.method, url: request.url }, 'unhandled error');
    return { code: 'internal', detail: 'unexpected error; see the service log' };
  }
}
