import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { mergeProcessMetrics } from './process-metrics-merge.js';

/** A registry as one API process has it: a counter, a gauge, a histogram, the service default label. */
async function processRegistry(requests: number, inFlight: number, latencies: number[]) {
  const registry = new Registry();
  registry.setDefaultLabels({ service: 'api' });
  new Counter({ name: 'requests_total', help: 'requests', registers: [registry] }).inc(requests);
  new Gauge({ name: 'in_flight', help: 'in flight', registers: [registry], aggregator: 'omit' }).set(inFlight);
  const histogram = new Histogram({
    name: 'latency_seconds',
    help: 'latency',
    buckets: [0.1, 1],
    registers: [registry],
  });
  latencies.forEach((l) => histogram.observe(l));
  return registry.getMetricsAsJSON();
}

describe('mergeProcessMetrics', () => {
  it('keeps each process its own series, told apart by process_index, with one HELP and TYPE per metric', async () => {
    const text = await mergeProcessMetrics([
      { index: 1, metrics: await processRegistry(5, 2, [0.5]) },
      { index: 0, metrics: await processRegistry(3, 7, [0.05, 2]) },
    ]);
    assert.match(text, /^requests_total\{service="api",process_index="0"\} 3$/m);
    assert.match(text, /^requests_total\{service="api",process_index="1"\} 5$/m);
    // An 'omit' gauge is still there: nothing is aggregated away.
    assert.match(text, /^in_flight\{service="api",process_index="0"\} 7$/m);
    assert.match(text, /^in_flight\{service="api",process_index="1"\} 2$/m);
    assert.match(text, /^latency_seconds_bucket\{le="0.1",service="api",process_index="0"\} 1$/m);
    assert.match(text, /^latency_seconds_bucket\{le="1",service="api",process_index="1"\} 1$/m);
    assert.match(text, /^latency_seconds_count\{service="api",process_index="0"\} 2$/m);
    assert.equal(text.match(/^# TYPE requests_total counter$/gm)?.length, 1);
    assert.equal(text.match(/^# HELP latency_seconds latency$/gm)?.length, 1);
  });
});
