import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { problemBody, responseGone } from '#libs/platform';

/** What the fanout needs from the client's request: the key, where to resume, and what the client accepts. */
const FORWARDED_HEADERS = ['authorization', 'last-event-id', 'accept'] as const;
/** What the client needs from the fanout's answer; hop-by-hop and length headers are the proxy's own business. */
const RETURNED_HEADERS = ['content-type', 'cache-control', 'x-accel-buffering', 'www-authenticate', 'retry-after'];

/**
 * Forwards a request to the fanout and streams its answer back as it comes, event by event: the API address serves the
 * SSE routes even when the fanout runs in a process of its own. The fanout does the authentication and the tenancy
 * checks; its errors (401, 404 problem+json) and its 204 pass through unchanged.
 *
 * Plain node:http with one connection per stream (no agent) rather than fetch: a stream lives for minutes, so pooling
 * buys nothing, and fetch's pool has an idle-body timeout and re-dispatch logic that an endless response trips over.
 * Destroying the upstream request closes its connection, which is what tells the fanout the client left.
 */
export class FanoutProxy {
  private readonly base: URL;
  private readonly open = new Set<http.ClientRequest>();

  constructor(
    baseUrl: string,
    private readonly logger: Logger,
  ) {
    this.base = new URL(baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  }

  async forward(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const headers: Record<string, string> = {};
    for (const name of FORWARDED_HEADERS) {
      const value = request.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    let upstream: IncomingMessage;
    try {
      upstream = await this.request(new URL(request.url.replace(/^\/+/, ''), this.base), headers, reply);
    } catch (error) {
      if (responseGone(reply.raw)) return reply; // the client left before the fanout answered
      this.logger.warn({ err: error, fanout: this.base.origin }, 'fanout did not answer');
      return reply
        .code(503)
        .header('content-type', 'application/problem+json')
        .send(
          problemBody('dependency_unavailable', 'the event stream service is unavailable; retry shortly', request.url),
        );
    }
    void reply.code(upstream.statusCode ?? 502);
    for (const name of RETURNED_HEADERS) {
      const value = upstream.headers[name];
      if (value !== undefined) void reply.header(name, value);
    }
    // Fastify pipes the stream with backpressure, and destroys it (closing the connection) when the client goes away.
    return reply.send(upstream);
  }

  /** Cuts every forwarded stream (at shutdown: the HTTP server would otherwise wait for them); clients reconnect. */
  closeAll(): void {
    for (const upstream of this.open) upstream.destroy();
    this.open.clear();
  }

  private request(url: URL, headers: Record<string, string>, reply: FastifyReply): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const upstream = (url.protocol === 'https:' ? https : http).request(url, { headers, agent: false }, resolve);
      this.open.add(upstream);
      upstream.on('error', reject); // kept: an error after the answer started must not go unhandled
      upstream.once('close', () => this.open.delete(upstream));
      // The client left (or its answer is complete): close the fanout connection, which ends the stream there too.
      reply.raw.once('close', () => upstream.destroy());
      upstream.end();
    });
  }
}
