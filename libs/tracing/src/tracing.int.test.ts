import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { apiRole } from '#apps/api/src/api.role.js';
import { coordinatorRole } from '#apps/coordinator/src/coordinator.role.js';
import { runProjectorRole } from '#apps/run-projector/src/run-projector.role.js';
import { materializerRole } from '#apps/materializer/src/materializer.role.js';
import { outboxRelayRole } from '#apps/outbox-relay/src/outbox-relay.role.js';
import { startTestHttpServer, type TestHttpServer } from '#apps/worker/src/http/test-http-server.js';
import { workerRole } from '#apps/worker/src/worker.role.js';
import { useTestContext } from '#test/harness/test-context.js';
import { createTopics, eventually, SAMPLE_DEFINITION, startRoles, type TestApp } from '#test/support/app.js';
import { createWorkflow, startRun, waitForRun } from '#test/support/runs.js';
import { registerTracing, stopTracing } from './index.js';

const ctx = useTestContext('tracing');
const exporter = new InMemorySpanExporter();

/** A made-up caller's context: the POST must continue this trace, as a child of this span. */
const incoming = () => {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
};
const spansOf = (traceId: string) => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
const names = (spans: readonly ReadableSpan[]) => spans.map((s) => s.name).sort();

describe('one trace follows a patch and a run across every role (W3C trace context in HTTP and Kafka headers)', () => {
  let api: TestApp;
  let server: TestHttpServer;

  before(async () => {
    registerTracing([new SimpleSpanProcessor({ exporter })], 'tracing-test');
    ctx.defer(() => stopTracing());
    await createTopics(ctx);
    server = await startTestHttpServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    ctx.defer(() => server.close());
    api = await startRoles(
      ctx,
      [apiRole, outboxRelayRole, materializerRole, coordinatorRole, runProjectorRole, workerRole],
      {
        ...ctx.config,
        SSRF_ALLOWED_HOSTS: ['127.0.0.1'],
      },
    );
  });
  after(() => exporter.reset());

  it("a patch: the POST (continuing the caller's traceparent), the relay's publish and the materializer share one trace", async () => {
    const workflowId = await createWorkflow(api, SAMPLE_DEFINITION);
    const caller = incoming();
    const reply = await api.request<{ patchId: string }>('POST', `/v1/workflows/${workflowId}/patches`, {
      body: { ops: [{ op: 'add', path: '/nodes/c', value: { type: 'function', config: { expression: '1' } } }] },
      headers: { traceparent: caller.traceparent },
    });
    assert.equal(reply.status, 202, JSON.stringify(reply.body));

    const spans = await eventually(() => {
      const found = spansOf(caller.traceId);
      return Promise.resolve(found.some((s) => s.name === 'materializer.materialize') ? found : undefined);
    }, 'the materializer span of the patch');
    const request = spans.find((s) => s.kind === SpanKind.SERVER);
    assert.ok(request, names(spans).join(', '));
    assert.match(request.name, /^POST \/v1\/workflows\/.+\/patches$/);
    assert.equal(request.parentSpanContext?.spanId, caller.spanId, 'the incoming traceparent is the parent');
    assert.equal(request.attributes['http.response.status_code'], 202);

    const publish = spans.find((s) => s.kind === SpanKind.PRODUCER);
    assert.ok(publish, names(spans).join(', '));
    assert.equal(publish.name, `publish ${ctx.config.KAFKA_TOPIC_PREFIX}patch.created`);
    assert.equal(publish.parentSpanContext?.spanId, request.spanContext().spanId);

    const consume = spans.find((s) => s.kind === SpanKind.CONSUMER && s.name === 'process patch.created');
    assert.ok(consume, names(spans).join(', '));
    assert.equal(consume.parentSpanContext?.spanId, publish.spanContext().spanId);
    assert.equal(consume.attributes['messaging.kafka.message.key'], workflowId);

    const materialize = spans.find((s) => s.name === 'materializer.materialize');
    assert.ok(materialize);
    assert.equal(materialize.parentSpanContext?.spanId, consume.spanContext().spanId);
    assert.equal(materialize.attributes['workflow.id'], workflowId);
    assert.equal(materialize.attributes['workflow.version'], 2);

    // The version's workflow.materialized event goes on in the same trace.
    await eventually(
      () =>
        Promise.resolve(
          spansOf(caller.traceId).some(
            (s) => s.name === `publish ${ctx.config.KAFKA_TOPIC_PREFIX}workflow.materialized`,
          ) || undefined,
        ),
      'the workflow.materialized publish span',
    );
  });

  it('a run: the POST, every coordinator step and every node (function, http_request, delay) share the run trace', async () => {
    const workflowId = await createWorkflow(api, {
      nodes: {
        a: { type: 'function', config: { expression: 'input.x + 1' } },
        call: { type: 'http_request', config: { method: 'GET', url: `${server.origin}/traced` } },
        wait: { type: 'delay', config: { ms: 20 } },
        c: { type: 'function', config: { expression: 'nodes.a * 10' } },
      },
      edges: [
        { from: 'a', to: 'call' },
        { from: 'call', to: 'wait' },
        { from: 'wait', to: 'c' },
      ],
    });
    const caller = incoming();
    const runId = await startRun(api, workflowId, { x: 1 }, { traceparent: caller.traceparent });
    const run = await waitForRun(api, runId);
    assert.equal(run.status, 'completed', JSON.stringify(run));

    // The http_request node called out with the run's trace id, from its node.execute span.
    const call = server.requests.find((r) => r.path === '/traced');
    assert.ok(call);
    const [, traceId, parentSpanId] = String(call.headers.traceparent).split('-');
    assert.equal(traceId, caller.traceId, `traceparent sent: ${String(call.headers.traceparent)}`);

    // Five coordinator steps (start, each worker node's completion, the delay's timer) and three node executions, all
    // in one trace: the fired timer carries no trace context, the coordinator continues the run's.
    const spans = await eventually(() => {
      const found = spansOf(caller.traceId);
      const steps = found.filter((s) => s.name === 'coordinator.transition' && s.attributes['run.id'] === runId);
      const nodes = found.filter((s) => s.name.startsWith('node.execute') && s.attributes['run.id'] === runId);
      return Promise.resolve(steps.length >= 5 && nodes.length === 3 ? found : undefined);
    }, 'coordinator and worker spans of the run');
    const nodes = spans.filter((s) => s.name.startsWith('node.execute'));
    assert.deepEqual(nodes.map((s) => [s.attributes['node.id'], s.name, s.attributes['node.status']]).sort(), [
      ['a', 'node.execute function', 'succeeded'],
      ['c', 'node.execute function', 'succeeded'],
      ['call', 'node.execute http_request', 'succeeded'],
    ]);
    assert.equal(nodes.find((s) => s.attributes['node.id'] === 'call')?.spanContext().spanId, parentSpanId);

    // Nothing of this run was recorded in another trace.
    const elsewhere = exporter
      .getFinishedSpans()
      .filter((s) => s.attributes['run.id'] === runId && s.spanContext().traceId !== caller.traceId);
    assert.deepEqual(names(elsewhere), []);

    // Each hop is a child of the one before: POST -> publish run.requested -> process -> transition -> publish
    // node.dispatch.function -> process -> node.execute -> process node.completed -> transition ...
    const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
    const chain = (span: ReadableSpan | undefined): string[] => {
      const path: string[] = [];
      for (let s = span; s; s = byId.get(s.parentSpanContext?.spanId ?? '')) path.unshift(s.name);
      return path;
    };
    const last = nodes.find((s) => s.attributes['node.id'] === 'c');
    const path = chain(last);
    assert.match(path[0] ?? '', /^POST \/v1\/workflows\/.+\/runs$/, path.join(' > '));
    assert.equal(path.filter((n) => n.startsWith('node.execute')).length, 3, path.join(' > '));
    assert.ok(path.filter((n) => n === 'coordinator.transition').length >= 3, path.join(' > '));
  });
});
