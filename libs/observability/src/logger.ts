import type { LoggerService } from '@nestjs/common';
import { isSpanContextValid, trace } from '@opentelemetry/api';
import { pino, type DestinationStream, type Logger, type LevelWithSilent, type LoggerOptions } from 'pino';

const NO_TRACE = Object.freeze({});

/**
 * `trace_id`/`span_id` of the span active where a line is logged (none when tracing is off: there is never an active
 * span then, and this costs one lookup).
 */
export function traceFields(): Record<string, string> {
  const span = trace.getActiveSpan();
  if (!span) return NO_TRACE;
  const ctx = span.spanContext();
  return isSpanContextValid(ctx) ? { trace_id: ctx.traceId, span_id: ctx.spanId } : NO_TRACE;
}

/**
 * One JSON line per event on stdout; `role` and `component` tell the roles of an all-in-one process apart, and lines
 * logged inside a span carry its `trace_id` and `span_id`.
 */
export function createLogger(
  bindings: { role?: string; component?: string } = {},
  level?: LevelWithSilent,
  destination?: DestinationStream,
): Logger {
  const options: LoggerOptions = {
    level: level ?? process.env.LOG_LEVEL ?? 'info',
    base: { pid: process.pid, ...bindings },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    mixin: traceFields,
    // pino's default merge assigns the line's fields into the mixin's object: the shared empty one must stay empty.
    mixinMergeStrategy: (fields: object, mixed: object) => (mixed === NO_TRACE ? fields : Object.assign(mixed, fields)),
  };
  return destination ? pino(options, destination) : pino(options);
}

/** Routes Nest's own messages (routes mapped, module init, errors) into the same JSON stream. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, context?: string): void {
    this.logger.info({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string): void {
    this.logger.error({ context, trace }, message instanceof Error ? message.message : String(message));
  }
  warn(message: unknown, context?: string): void {
    this.logger.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string): void {
    this.logger.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string): void {
    this.logger.trace({ context }, String(message));
  }
}
