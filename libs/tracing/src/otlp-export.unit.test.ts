import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { inSpan, startTracing, stopTracing, traceHeaders, tracingEnabled, TracingConfigError } from './index.js';

describe('tracing is configured by the standard OTEL_* variables and off by default', () => {
  it('stays off without OTEL_TRACES_EXPORTER, with "none", and with OTEL_SDK_DISABLED', () => {
    assert.equal(startTracing('svc', {}), false);
    assert.equal(startTracing('svc', { OTEL_TRACES_EXPORTER: 'none' }), false);
    assert.equal(startTracing('svc', { OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'true' }), false);
    assert.equal(tracingEnabled(), false);
    assert.equal(traceHeaders(), undefined);
  });

  it('refuses an unknown exporter or sampler', () => {
    assert.throws(() => startTracing('svc', { OTEL_TRACES_EXPORTER: 'zipkin' }), TracingConfigError);
    assert.throws(
      () => startTracing('svc', { OTEL_TRACES_EXPORTER: 'otlp', OTEL_TRACES_SAMPLER: 'sometimes' }),
      TracingConfigError,
    );
    assert.equal(tracingEnabled(), false);
  });

  it('exports spans over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT, named by OTEL_SERVICE_NAME', async () => {
    const received: { url: string; headers: IncomingHttpHeaders; body: Buffer }[] = [];
    const collector = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        received.push({ url: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks) });
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = collector.address() as AddressInfo;
      // The exporter and the resource detector read these from the process's environment, as in production.
      Object.assign(process.env, {
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
        OTEL_SERVICE_NAME: 'orchestrator-test',
      });
      const on = startTracing('default-name');
      assert.equal(on, true);
      let traceId = '';
      await inSpan('exported', {}, (started) => {
        traceId = started?.span.spanContext().traceId ?? '';
        return Promise.resolve();
      });
      await stopTracing(); // flushes the batch processor
      assert.equal(tracingEnabled(), false);
      assert.equal(received.length, 1);
      assert.equal(received[0]?.url, '/v1/traces');
      const body = received[0]?.body ?? Buffer.alloc(0);
      assert.ok(body.includes('orchestrator-test'), 'the service name');
      assert.ok(body.includes('exported'), 'the span');
      const json = String(received[0]?.headers['content-type']).includes('json');
      assert.ok(body.includes(json ? traceId : Buffer.from(traceId, 'hex')), 'the trace id');
    } finally {
      for (const name of ['OTEL_TRACES_EXPORTER', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_SERVICE_NAME'])
        delete process.env[name];
      await stopTracing();
      collector.closeAllConnections();
      await new Promise((resolve) => collector.close(resolve));
    }
  });
});
