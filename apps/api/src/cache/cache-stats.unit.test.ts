import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cacheStats, type HitGroup } from './cache-stats.js';

const window = { workspaceId: 'w', since: new Date('2026-12-01T00:00:00Z'), until: new Date('2026-12-01T05:00:00Z') };
const group = (g: Partial<HitGroup>): HitGroup => ({
  nodeType: 'function',
  model: null,
  match: 'exact',
  hits: 0,
  savedMs: 0,
  promptTokens: 0,
  completionTokens: 0,
  ...g,
});
const prices = new Map([['m', { promptPerMillion: 2, completionPerMillion: 10 }]]);

describe('cache stats', () => {
  it('rates hits against lookups per node type and overall, and prices the tokens saved per model', () => {
    const stats = cacheStats(
      window,
      [
        group({ nodeType: 'function', hits: 3, savedMs: 300 }),
        group({ nodeType: 'agent', model: 'm', hits: 2, savedMs: 1_000, promptTokens: 1_000, completionTokens: 500 }),
        group({ nodeType: 'agent', model: 'other', hits: 1, savedMs: 400, promptTokens: 10, completionTokens: 5 }),
      ],
      new Map([
        ['function', 4],
        ['agent', 6],
        ['http_request', 5],
      ]),
      prices,
    );
    assert.deepEqual(
      { lookups: stats.lookups, hits: stats.hits, misses: stats.misses, hitRate: stats.hitRate },
      { lookups: 15, hits: 6, misses: 9, hitRate: 6 / 15 },
    );
    assert.equal(stats.savedMs, 1_700);
    assert.deepEqual(
      stats.byNodeType.map((t) => [t.nodeType, t.lookups, t.hits, t.misses, t.hitRate]),
      [
        ['agent', 6, 3, 3, 0.5],
        ['function', 4, 3, 1, 0.75],
        ['http_request', 5, 0, 5, 0],
      ],
    );
    // 1000 × 2/M + 500 × 10/M
    assert.equal(stats.estimatedCostSaved, 0.007);
    assert.deepEqual(stats.unpricedModels, ['other']);
    assert.deepEqual(stats.tokensSaved, { prompt: 1_010, completion: 505 });
    assert.deepEqual(stats.since, '2026-12-01T00:00:00.000Z');
  });

  it('answers without lookups when the counters are gone, and never rates above 1', () => {
    const down = cacheStats(window, [group({ hits: 2 })], null, prices);
    assert.deepEqual([down.lookups, down.misses, down.hitRate, down.hits], [null, null, null, 2]);
    const evicted = cacheStats(window, [group({ hits: 2 })], new Map([['function', 1]]), prices);
    assert.deepEqual([evicted.lookups, evicted.misses, evicted.hitRate], [2, 0, 1]);
    const idle = cacheStats(window, [], new Map(), prices);
    assert.deepEqual([idle.lookups, idle.hitRate, idle.estimatedCostSaved], [0, null, 0]);
  });

  it('counts the hits and time saved of each kind of match apart, and both in the totals', () => {
    const stats = cacheStats(
      window,
      [
        group({ nodeType: 'agent', model: 'm', hits: 2, savedMs: 1_000 }),
        group({ nodeType: 'agent', model: 'm', match: 'semantic', hits: 3, savedMs: 2_500 }),
        group({ nodeType: 'function', hits: 1, savedMs: 10 }),
      ],
      new Map([['agent', 5]]),
      prices,
    );
    assert.deepEqual(stats.byMatch, [
      { match: 'exact', hits: 3, savedMs: 1_010 },
      { match: 'semantic', hits: 3, savedMs: 2_500 },
    ]);
    assert.deepEqual([stats.hits, stats.savedMs, stats.byNodeType[0]?.hitRate], [6, 3_510, 1]);
  });
});
