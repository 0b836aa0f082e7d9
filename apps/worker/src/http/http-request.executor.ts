import { STATUS_CODES } from 'node:http';
import { request, type Dispatcher } from 'undici';
import { withTraceHeaders } from '#libs/tracing';
import { isForbiddenHost, type NodeConfigs } from '#libs/workflows';
import { createGuardedAgent, ResolvedAddressRefused, resolveWithDns, type ResolveHost } from './guarded-agent.js';
import { redirectHop, type Hop } from './redirect.js';
import { failure, type ExecutionResult } from '../execution-result.js';
import { decodeBody, decodeText, firstValue, readBounded } from './response-body.js';

export interface HttpTaskContext {
  runId: string;
  nodeId: string;
  attempt: number;
  /** epoch ms; null when the task has none */
  deadlineAt: number | null;
  input: unknown;
}

export interface HttpExecutorOptions {
  /** SSRF allow-list (exact hostnames or IP literals), from SSRF_ALLOWED_HOSTS */
  allowedHosts: readonly string[];
  /** when the task has no deadline, or a later one */
  defaultTimeoutMs: number;
  /** the hard bound on a response body: a node's `config.maxResponseBytes` may lower it, never raise it */
  maxResponseBytes: number;
  maxRedirects: number;
  /** how hostnames resolve; node:dns unless given (tests point made-up names at loopback with it) */
  resolve?: ResolveHost;
  /**
   * The guarded agent to send through (`createGuardedAgent` with the same allow-list), kept by the caller so that
   * connections are reused across tasks; without it each call makes and destroys its own.
   */
  agent?: Dispatcher;
}

/**
 * Response headers copied into the output. Only these: outputs are stored and shown across the workspace, and headers
 * such as set-cookie carry secrets.
 */
const OUTPUT_HEADERS = ['content-type', 'content-length', 'etag', 'last-modified', 'cache-control'];

/** An error response is read this far, enough for the excerpt the failure message quotes. */
const ERROR_BODY_BYTES = 1024;
const ERROR_EXCERPT_CHARS = 200;

/**
 * Runs one http_request task: every request failure (network, timeout, SSRF refusal, non-2xx, oversized or malformed
 * body) is a `{ ok: false }` result, never an exception. Redirects are followed here rather than by undici so that
 * every hop passes the SSRF guard and carries the idempotency key.
 */
export async function executeHttpRequest(
  config: NodeConfigs['http_request'],
  ctx: HttpTaskContext,
  options: HttpExecutorOptions,
): Promise<ExecutionResult> {
  const timeoutMs = Math.min(options.defaultTimeoutMs, (ctx.deadlineAt ?? Infinity) - Date.now());
  if (timeoutMs <= 0) return failure('deadline passed before the request started');
  const url = URL.parse(config.url);
  if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    return failure(`not an absolute http or https URL: ${config.url}`);
  }
  const maxBytes = Math.min(options.maxResponseBytes, config.maxResponseBytes ?? Infinity);

  const signal = AbortSignal.timeout(timeoutMs);
  const agent = options.agent ?? createGuardedAgent(options.allowedHosts, options.resolve ?? resolveWithDns);
  let hop = firstHop(config, url, ctx);
  let redirects = 0;
  try {
    for (; ; redirects++) {
      // IP literals never reach the agent's lookup, and names such as `localhost` are refused before resolving.
      const reason = isForbiddenHost(hop.url.hostname, options.allowedHosts);
      if (reason !== null) return refused(`${hop.url.hostname} is not allowed (${reason})`, redirects);

      const response = await request(hop.url, {
        dispatcher: agent,
        method: hop.method,
        // The active trace context (the node's span) as traceparent/tracestate; nothing added when tracing is off.
        headers: withTraceHeaders(hop.headers),
        body: hop.body,
        signal,
      });
      const next = redirectHop(hop, response.statusCode, firstValue(response.headers.location));
      if (next === null) return await toResult(response, maxBytes);
      await response.body.dump();
      if ('error' in next) return failure(next.error);
      if (redirects === options.maxRedirects) return failure(`too many redirects (more than ${options.maxRedirects})`);
      hop = next;
    }
  } catch (error) {
    if (error instanceof ResolvedAddressRefused) return refused(error.message, redirects);
    const target = `${hop.method} ${hop.url.host}`;
    if (signal.aborted) return failure(`${target} timed out after ${timeoutMs} ms`);
    return failure(`${target} failed: ${describeError(error)}`);
  } finally {
    if (agent !== options.agent) await agent.destroy();
  }
}

function firstHop(config: NodeConfigs['http_request'], url: URL, ctx: HttpTaskContext): Hop {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(config.headers ?? {})) headers[name.toLowerCase()] = value;
  // Set last so that the author's headers cannot replace it: external systems dedupe retries on it (invariant 4).
  headers['idempotency-key'] = `${ctx.runId}:${ctx.nodeId}:${ctx.attempt}`;
  const hop = { method: config.method, url, headers, body: undefined };
  if (config.method === 'GET' || config.method === 'HEAD' || config.body === undefined) return hop;
  if (typeof config.body === 'string') {
    headers['content-type'] ??= 'text/plain; charset=utf-8';
    return { ...hop, body: config.body };
  }
  headers['content-type'] ??= 'application/json';
  return { ...hop, body: JSON.stringify(config.body) };
}

async function toResult(response: Dispatcher.ResponseData, maxBytes: number): Promise<ExecutionResult> {
  const { statusCode: status, headers, body } = response;
  const contentType = firstValue(headers['content-type']);
  if (status < 200 || status > 299) {
    const { bytes } = await readBounded(body, ERROR_BODY_BYTES);
    const excerpt = decodeText(bytes, contentType).slice(0, ERROR_EXCERPT_CHARS);
    const statusLine = [`HTTP ${status}`, STATUS_CODES[status]].filter(Boolean).join(' ');
    return failure(excerpt === '' ? statusLine : `${statusLine}: ${excerpt}`);
  }

  const { bytes, complete } = await readBounded(body, maxBytes);
  if (!complete) return failure(`response larger than ${maxBytes} bytes`);
  const decoded = decodeBody(bytes, contentType);
  if (!decoded.ok) return failure(`response is ${contentType} but not valid JSON`);
  const outputHeaders: Record<string, string> = {};
  for (const name of OUTPUT_HEADERS) {
    const value = headers[name];
    if (value !== undefined) outputHeaders[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return { ok: true, output: { status, headers: outputHeaders, body: decoded.body } };
}

function refused(what: string, redirects: number): ExecutionResult {
  const via = redirects > 0 ? ' (reached by redirect)' : '';
  return failure(`refused: ${what}${via}; allow it with SSRF_ALLOWED_HOSTS`);
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return error.message || (error as NodeJS.ErrnoException).code || error.name;
}
