import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mayDecide } from './approvers.js';

describe('mayDecide (hitl approvers)', () => {
  const ann = { keyId: '6f1c2a8e-0000-4000-8000-000000000001', label: 'ann' };
  const unlabelled = { keyId: '6f1c2a8e-0000-4000-8000-000000000002', label: null };

  it('lets any key decide a node without approvers', () => {
    assert.equal(mayDecide(undefined, unlabelled), true);
    assert.equal(mayDecide([], unlabelled), true);
  });

  it('lets only the named keys decide, by label or by key id', () => {
    assert.equal(mayDecide(['ann', 'bob'], ann), true);
    assert.equal(mayDecide(['bob'], ann), false);
    assert.equal(mayDecide([unlabelled.keyId], unlabelled), true);
    assert.equal(mayDecide(['bob'], unlabelled), false);
  });
});
