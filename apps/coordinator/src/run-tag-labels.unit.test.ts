import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RunTagLabels } from './run-tag-labels.js';

describe('RunTagLabels', () => {
  it('keeps the first N distinct tags and folds the rest into "other"', () => {
    const labels = new RunTagLabels(undefined, 2);
    const seen = ['a', 'b', 'c', 'a', 'd', 'b'].map((t) => labels.label(t));
    assert.deepEqual(seen, ['a', 'b', 'other', 'a', 'other', 'b']);
    assert.equal(labels.label(null), 'none');
  });

  it('labels only the allow-listed tags when there is a list', () => {
    const labels = new RunTagLabels(['nightly'], 50);
    assert.deepEqual(
      ['nightly', 'x', 'y'].map((t) => labels.label(t)),
      ['nightly', 'other', 'other'],
    );
  });

  it('bounds the series of a flood of distinct tags', () => {
    const labels = new RunTagLabels(undefined, 50);
    const distinct = new Set(Array.from({ length: 10_000 }, (_, i) => labels.label(`tag-${i}`)));
    assert.equal(distinct.size, 51);
  });
});
