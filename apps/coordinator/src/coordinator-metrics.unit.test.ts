import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import type { Effect, RunState } from '#libs/runs';
import { CoordinatorMetrics } from './coordinator-metrics.js';
import { RunTagLabels } from './run-tag-labels.js';

describe('CoordinatorMetrics: workflows_started_total{tag}', () => {
  it('keeps the tag label bounded however many distinct tags clients send', async () => {
    const registry = new Registry();
    const metrics = new CoordinatorMetrics(registry, () => 0, new RunTagLabels(undefined, 3));
    const started = [{ type: 'event', kind: 'run.started' }] as unknown as Effect[];
    for (let i = 0; i < 100; i++) {
      metrics.observe({ tag: `client-tag-${i}`, requestedAt: Date.now() }, {} as RunState, started, () => 'function');
    }
    const series = (await registry.getSingleMetric('workflows_started_total')?.get())?.values ?? [];
    assert.deepEqual(
      series.map((s) => [s.labels.tag, s.value]),
      [
        ['client-tag-0', 1],
        ['client-tag-1', 1],
        ['client-tag-2', 1],
        ['other', 97],
      ],
    );
  });
});
