import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type Sampler,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

let provider: TracerProvider | undefined;
let contextManager: AsyncLocalStorageContextManager | undefined;

/**
 * Whether spans are recorded in this process. Everything in this library checks it first, so that with tracing off
 * (the default) no span, context or header is created: the per-message cost is this one check.
 */
export function tracingEnabled(): boolean {
  return provider !== undefined;
}

/** The exporter list of `OTEL_TRACES_EXPORTER` that is wrong: thrown at start-up, like a bad config variable. */
export class TracingConfigError extends Error {}

/**
 * Starts tracing as the standard `OTEL_*` variables say, or not at all. Unlike the OpenTelemetry default, nothing is
 * exported unless `OTEL_TRACES_EXPORTER` asks for it (`otlp`: OTLP over HTTP to `OTEL_EXPORTER_OTLP_ENDPOINT` or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, with `OTEL_EXPORTER_OTLP_HEADERS` etc. read by the exporter; `console`;
 * `none`). `OTEL_SDK_DISABLED=true` wins. The service name is `OTEL_SERVICE_NAME`, else `defaultServiceName`;
 * `OTEL_RESOURCE_ATTRIBUTES` adds attributes; `OTEL_TRACES_SAMPLER`/`_ARG` pick the sampler. Returns whether tracing
 * is on. (`env` decides exporter and sampler; the exporter's endpoint and the resource come from `process.env`.)
 */
export function startTracing(defaultServiceName: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (tracingEnabled()) return true;
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  const names = (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name && name !== 'none');
  if (!names.length) return false;
  const processors = names.map((name): SpanProcessor => {
    if (name === 'otlp') return new BatchSpanProcessor({ exporter: new OTLPTraceExporter() });
    if (name === 'console') return new SimpleSpanProcessor({ exporter: new ConsoleSpanExporter() });
    throw new TracingConfigError(`OTEL_TRACES_EXPORTER: unknown exporter "${name}" (otlp, console or none)`);
  });
  registerTracing(processors, defaultServiceName, samplerFromEnv(env));
  return true;
}

/** `OTEL_TRACES_SAMPLER` (+ `OTEL_TRACES_SAMPLER_ARG` for the ratio ones); parentbased_always_on by default. */
function samplerFromEnv(env: NodeJS.ProcessEnv): Sampler {
  const name = env.OTEL_TRACES_SAMPLER?.trim().toLowerCase() || 'parentbased_always_on';
  const ratio = () => {
    const value = Number(env.OTEL_TRACES_SAMPLER_ARG ?? '1');
    if (!Number.isFinite(value) || value < 0 || value > 1)
      throw new TracingConfigError(
        `OTEL_TRACES_SAMPLER_ARG: not a ratio between 0 and 1: ${env.OTEL_TRACES_SAMPLER_ARG}`,
      );
    return new TraceIdRatioBasedSampler(value);
  };
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio();
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio() });
    default:
      throw new TracingConfigError(`OTEL_TRACES_SAMPLER: unknown sampler "${name}"`);
  }
}

/**
 * Registers a tracer provider with these span processors, the W3C trace-context propagator and an AsyncLocalStorage
 * context manager as the process-wide OpenTelemetry globals. Tests call it with an in-memory exporter.
 */
export function registerTracing(
  spanProcessors: SpanProcessor[],
  defaultServiceName: string,
  sampler?: Sampler,
): TracerProvider {
  if (provider) throw new Error('tracing is already registered in this process');
  const resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: defaultServiceName }))
    .merge(detectResources({ detectors: [envDetector] }));
  const created = new TracerProvider({ resource, spanProcessors, ...(sampler ? { sampler } : {}) });
  contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(created);
  provider = created;
  return created;
}

/** Exports what is buffered and unregisters everything; tracing is off afterwards. */
export async function stopTracing(): Promise<void> {
  const stopping = provider;
  if (!stopping) return;
  provider = undefined;
  try {
    await stopping.shutdown();
  } finally {
    trace.disable();
    propagation.disable();
    context.disable();
    contextManager = undefined;
  }
}
