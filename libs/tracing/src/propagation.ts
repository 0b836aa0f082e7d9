import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Link,
  type Span,
} from '@opentelemetry/api';
import { tracingEnabled } from './tracing.js';

export type TraceHeaders = Readonly<Record<string, string>>;

export const tracer = () => trace.getTracer('orchestrator');

/** The W3C `traceparent`/`tracestate` of a context (the active one by default); undefined when tracing is off. */
export function traceHeaders(ctx: Context = context.active()): Record<string, string> | undefined {
  if (!tracingEnabled() || !trace.getSpanContext(ctx)) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier;
}

/** Headers with the active context's `traceparent`/`tracestate` added (the same object when tracing is off). */
export function withTraceHeaders<H extends Record<string, unknown>>(headers: H): H {
  const extra = traceHeaders();
  return extra ? { ...headers, ...extra } : headers;
}

/** The remote context that `traceparent`/`tracestate` headers carry, or undefined without a `traceparent`. */
export function contextFromHeaders(
  headers: Readonly<Record<string, string | string[] | undefined>> | undefined,
): Context | undefined {
  if (!tracingEnabled() || !headers?.traceparent) return undefined;
  const ctx = propagation.extract(ROOT_CONTEXT, headers);
  return trace.getSpanContext(ctx) ? ctx : undefined;
}

/** A started span and the context in which it is the active span (its children's parent). */
export interface StartedSpan {
  readonly span: Span;
  readonly context: Context;
}

export interface SpanOptions {
  readonly kind?: SpanKind;
  readonly attributes?: Attributes;
  readonly parent?: Context | undefined;
  readonly links?: Link[];
}

/** Starts a span (child of `parent`, else of the active context); undefined when tracing is off. */
export function startSpan(name: string, options: SpanOptions = {}): StartedSpan | undefined {
  if (!tracingEnabled()) return undefined;
  const parent = options.parent ?? context.active();
  const span = tracer().startSpan(
    name,
    {
      kind: options.kind ?? SpanKind.INTERNAL,
      ...(options.attributes ? { attributes: options.attributes } : {}),
      ...(options.links?.length ? { links: options.links } : {}),
    },
    parent,
  );
  return { span, context: trace.setSpan(parent, span) };
}

/** Ends a span, marking it failed when there is an error. */
export function endSpan(started: StartedSpan | undefined, error?: unknown): void {
  if (!started) return;
  if (error !== undefined) {
    const message = error instanceof Error ? error.message : JSON.stringify(error);
    started.span.recordException(error instanceof Error ? error : message);
    started.span.setStatus({ code: SpanStatusCode.ERROR, message });
  }
  started.span.end();
}

/**
 * Runs `fn` in a span that it may annotate, active for everything `fn` starts (log lines, child spans, outbound
 * headers). With tracing off it is just `fn(undefined)`.
 */
export async function inSpan<T>(
  name: string,
  options: SpanOptions,
  fn: (started: StartedSpan | undefined) => Promise<T>,
): Promise<T> {
  const started = startSpan(name, options);
  if (!started) return fn(undefined);
  try {
    const result = await context.with(started.context, () => fn(started));
    endSpan(started);
    return result;
  } catch (error) {
    endSpan(started, error);
    throw error;
  }
}

/** A link to the span a context carries (for spans that act on many messages of different traces). */
export function linkTo(ctx: Context | undefined): Link[] {
  const spanContext = ctx && trace.getSpanContext(ctx);
  return spanContext ? [{ context: spanContext }] : [];
}

/**
 * The context in which a consumed message was processed (its consumer span), set by the Kafka transport. Handlers
 * of batches mixing many traces use it to give each effect the context of the message that caused it.
 */
const messageContexts = new WeakMap<object, Context>();

export function messageContext(message: object): Context | undefined {
  return tracingEnabled() ? messageContexts.get(message) : undefined;
}

export interface IncomingMessage {
  readonly key: string | null;
  readonly headers: Readonly<Record<string, string>>;
  readonly offset: string;
}

/**
 * One CONSUMER span per message that carries a `traceparent` (child of the producer's span), recorded as that
 * message's context. Messages without one get no span: a new root per untraced message would only split the run's
 * effects off into traces of their own. `end` closes them once the batch was handled.
 */
export function traceIncoming(
  messages: readonly IncomingMessage[],
  where: { topic: string; partition: number; group: string },
): { end(error?: unknown): void } {
  if (!tracingEnabled()) return NOOP_END;
  const spans: StartedSpan[] = [];
  for (const message of messages) {
    const parent = contextFromHeaders(message.headers);
    if (!parent) continue;
    const started = startSpan(`process ${where.topic}`, {
      kind: SpanKind.CONSUMER,
      parent,
      attributes: {
        'messaging.system': 'kafka',
        'messaging.operation.type': 'process',
        'messaging.destination.name': where.topic,
        'messaging.destination.partition.id': String(where.partition),
        'messaging.consumer.group.name': where.group,
        'messaging.kafka.offset': Number(message.offset),
        ...(message.key !== null ? { 'messaging.kafka.message.key': message.key } : {}),
      },
    }) as StartedSpan;
    messageContexts.set(message, started.context);
    spans.push(started);
  }
  return { end: (error?: unknown) => spans.forEach((s) => endSpan(s, error)) };
}

const NOOP_END = { end: () => undefined };

export interface OutgoingRow {
  readonly topic: string;
  readonly key: string;
  readonly headers: TraceHeaders;
}

/**
 * One PRODUCER span per outgoing row that carries a `traceparent` (child of it), whose context replaces the row's
 * trace headers, so consumers become children of the publish. Rows are returned unchanged when tracing is off.
 */
export function traceOutgoing<R extends OutgoingRow>(
  rows: readonly R[],
  attributes: Attributes = {},
): { rows: readonly R[]; end(error?: unknown): void } {
  if (!tracingEnabled()) return { rows, end: NOOP_END.end };
  const spans: StartedSpan[] = [];
  const traced = rows.map((row) => {
    const parent = contextFromHeaders(row.headers);
    if (!parent) return row;
    const started = startSpan(`publish ${row.topic}`, {
      kind: SpanKind.PRODUCER,
      parent,
      attributes: {
        'messaging.system': 'kafka',
        'messaging.operation.type': 'send',
        'messaging.destination.name': row.topic,
        'messaging.kafka.message.key': row.key,
        ...attributes,
      },
    }) as StartedSpan;
    spans.push(started);
    return { ...row, headers: { ...row.headers, ...traceHeaders(started.context) } };
  });
  return { rows: traced, end: (error?: unknown) => spans.forEach((s) => endSpan(s, error)) };
}

/** The request with the active trace context as its `traceHeaders` (the same object when tracing is off). */
export function withRequestTrace<Q extends { readonly traceHeaders?: TraceHeaders | undefined }>(request: Q): Q {
  const headers = traceHeaders();
  return headers ? { ...request, traceHeaders: headers } : request;
}
