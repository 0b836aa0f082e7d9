import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lookupCounterKey, nodeCacheKey } from './cache-key.js';
import { entryPattern, escapeGlob } from './cache-maintenance.js';

const WS = '0f8fad5b-d9cb-469f-a165-70867728950e';

/** Redis's glob, for the characters the patterns use: `*` and backslash escapes. */
const matches = (pattern: string, key: string): boolean => {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') re += `\\${pattern[++i]}`;
    else if (c === '*') re += '.*';
    else re += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's').test(key);
};

describe('cache maintenance patterns', () => {
  it('find a workspace’s entries, of every node type or of one, and nothing else', () => {
    const key = (workspaceId: string, nodeType: string) =>
      nodeCacheKey('p:', { workspaceId, permission: 'write', nodeType, config: {}, inputs: null });
    const fn = key(WS, 'function');
    const agent = key(WS, 'agent');
    const other = key('1f8fad5b-d9cb-469f-a165-70867728950e', 'function');
    assert.ok(matches(entryPattern('p:', WS), fn.entry));
    assert.ok(matches(entryPattern('p:', WS), agent.entry));
    assert.ok(!matches(entryPattern('p:', WS), other.entry), 'another workspace');
    assert.ok(!matches(entryPattern('p:', WS), fn.lease), 'a lease is not an entry');
    assert.ok(!matches(entryPattern('p:', WS), lookupCounterKey(fn.slot, 0)), 'counters survive a purge');
    assert.ok(matches(entryPattern('p:', WS, 'function'), fn.entry));
    assert.ok(!matches(entryPattern('p:', WS, 'function'), agent.entry));
  });

  it('escape glob characters of the deployment prefix', () => {
    assert.equal(escapeGlob('a*b?[c]\\'), 'a\\*b\\?\\[c\\]\\\\');
    const key = nodeCacheKey('x*:', { workspaceId: WS, permission: 'read', nodeType: 'agent', config: 1, inputs: 2 });
    assert.ok(matches(entryPattern('x*:', WS), key.entry));
    assert.ok(!matches(entryPattern('x*:', WS), key.entry.replace('x*:', 'xyz:')));
  });
});
