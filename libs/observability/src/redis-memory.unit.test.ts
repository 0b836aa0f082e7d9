import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fullest } from './redis-metrics.js';

describe('fullest (the memory gauges of a Redis Cluster)', () => {
  it('reports the master nearest its maxmemory, not the one using most', () => {
    const gb = 1024 ** 3;
    assert.deepEqual(fullest([{ used: 1.5 * gb, max: 4 * gb }, undefined, { used: 0.9 * gb, max: 1 * gb }]), {
      used: 0.9 * gb,
      max: 1 * gb,
    });
  });

  it('without limits, the one using most; nothing when no master answered', () => {
    assert.deepEqual(
      fullest([
        { used: 5, max: 0 },
        { used: 9, max: 0 },
      ]),
      { used: 9, max: 0 },
    );
    assert.equal(fullest([undefined, undefined]), undefined);
  });
});
