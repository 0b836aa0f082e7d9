import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Writable } from 'node:stream';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { createLogger } from '#libs/observability';
import { inSpan, registerTracing, stopTracing, tracingEnabled } from './index.js';

/** Log lines written to memory, parsed. */
function memoryLogger() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ role: 'test' }, 'info', destination), lines };
}

describe('structured logs carry the active trace', () => {
  it('adds no trace fields while tracing is off', async () => {
    assert.equal(tracingEnabled(), false);
    const { logger, lines } = memoryLogger();
    await inSpan('off', {}, () => Promise.resolve(logger.info('inside')));
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.trace_id, undefined);
    assert.equal(lines[0]?.msg, 'inside');
    // The fields of one line never leak into the next (pino merges them into the mixin's object).
    logger.info({ runId: 'r-0' }, 'with fields');
    logger.info('without');
    assert.equal(lines[2]?.runId, undefined);
  });

  describe('with tracing on', () => {
    const exporter = new InMemorySpanExporter();
    before(() => registerTracing([new SimpleSpanProcessor({ exporter })], 'log-test'));
    after(() => stopTracing());

    it('puts trace_id and span_id on lines logged inside a span, and none outside', async () => {
      const { logger, lines } = memoryLogger();
      const child = logger.child({ runId: 'r-1' });
      logger.info('before');
      await inSpan('work', {}, async (started) => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        child.info('inside');
        assert.ok(started);
      });
      logger.info('after');
      const [span] = exporter.getFinishedSpans();
      assert.ok(span);
      assert.deepEqual(
        lines.map((l) => [l.msg, l.trace_id, l.span_id, l.runId]),
        [
          ['before', undefined, undefined, undefined],
          ['inside', span.spanContext().traceId, span.spanContext().spanId, 'r-1'],
          ['after', undefined, undefined, undefined],
        ],
      );
      assert.match(String(lines[1]?.trace_id), /^[0-9a-f]{32}$/);
    });
  });
});
