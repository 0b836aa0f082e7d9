import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StreamQuota } from './stream-quota.js';

describe('StreamQuota', () => {
  it('refuses a workspace past its cap, not the others, and frees a slot once per release', () => {
    const quota = new StreamQuota(2);
    const first = quota.acquire('a');
    assert.ok(first);
    assert.ok(quota.acquire('a'));
    assert.equal(quota.acquire('a'), undefined);
    assert.ok(quota.acquire('b'));
    first();
    first();
    assert.equal(quota.held('a'), 1);
    assert.ok(quota.acquire('a'));
    assert.equal(quota.acquire('a'), undefined);
  });

  it('has no cap at 0', () => {
    const quota = new StreamQuota(0);
    for (let i = 0; i < 1000; i++) assert.ok(quota.acquire('a'));
  });
});
