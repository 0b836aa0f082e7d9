import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cacheDecision, DEFAULT_TTL_MS, type CacheCandidate, type CachePolicySettings } from './cache-policy.js';

const WS = '0f8fad5b-d9cb-469f-a165-70867728950e';
const HOUR = 3_600_000;
const on: CachePolicySettings = { enabled: true, workspaces: new Map() };
const fn: CacheCandidate = {
  workspaceId: WS,
  permission: 'write',
  nodeType: 'function',
  config: { expression: '1' },
  node: null,
};
const http = (method: string, node: CacheCandidate['node'] = null): CacheCandidate => ({
  ...fn,
  nodeType: 'http_request',
  config: { method, url: 'https://example.org/' },
  node,
});
const ttl = (candidate: CacheCandidate, settings = on) => {
  const decision = cacheDecision(candidate, settings);
  return decision.cache ? decision.ttlMs : decision.reason;
};

describe('cache policy', () => {
  it('keeps function and agent results 7 days and http_request results 1 hour by default', () => {
    assert.deepEqual(DEFAULT_TTL_MS, { function: 7 * 24 * HOUR, http_request: HOUR, agent: 7 * 24 * HOUR });
    assert.equal(ttl(fn), 7 * 24 * HOUR);
    assert.equal(ttl({ ...fn, nodeType: 'agent', config: { model: 'm', prompt: 'p' } }), 7 * 24 * HOUR);
    assert.equal(ttl(http('GET')), HOUR);
    assert.equal(ttl(http('HEAD')), HOUR);
    assert.deepEqual(cacheDecision(fn, on), {
      cache: true,
      nodeType: 'function',
      permission: 'write',
      ttlMs: 7 * 24 * HOUR,
    });
  });

  it('never caches hitl and delay nodes, whatever they say', () => {
    for (const nodeType of ['hitl', 'delay']) {
      assert.equal(ttl({ ...fn, nodeType, node: { enabled: true, ttlMs: 5 } }), 'node_type');
    }
  });

  it('caches POST, PUT, PATCH and DELETE requests only when the node opts in', () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'post']) {
      assert.equal(ttl(http(method)), 'http_method', method);
      assert.equal(ttl(http(method, { enabled: null, ttlMs: 5_000 })), 'http_method', method);
      assert.equal(ttl(http(method, { enabled: true })), HOUR, method);
      assert.equal(ttl(http(method, { enabled: true, ttlMs: 5_000 })), 5_000, method);
    }
  });

  it('caches a function node cheaper to compute than to look up only when the node opts in', () => {
    assert.equal(ttl({ ...fn, cheap: true }), 'cheap');
    assert.equal(ttl({ ...fn, cheap: true, node: { enabled: null, ttlMs: 60_000 } }), 'cheap');
    assert.equal(ttl({ ...fn, cheap: true, node: { enabled: true } }), 7 * 24 * HOUR);
    assert.equal(ttl({ ...fn, cheap: true, node: { enabled: true, ttlMs: 60_000 } }), 60_000);
    assert.equal(ttl({ ...fn, cheap: false }), 7 * 24 * HOUR);
  });

  it('lets the node choose its lifetime, or turn caching off', () => {
    assert.equal(ttl({ ...fn, node: { ttlMs: 60_000 } }), 60_000);
    assert.equal(ttl({ ...fn, node: { enabled: null, ttlMs: null } }), 7 * 24 * HOUR);
    assert.equal(ttl({ ...fn, node: { enabled: false, ttlMs: 60_000 } }), 'node_off');
    assert.equal(ttl(http('GET', { enabled: false })), 'node_off');
  });

  it('takes the workspace’s lifetimes over the defaults, the node’s over both, and the workspace’s off over all', () => {
    const settings: CachePolicySettings = {
      enabled: true,
      workspaces: new Map([
        [WS, { ttlMs: { function: 1_000, http_request: 0 } }],
        ['1f8fad5b-d9cb-469f-a165-70867728950e', { enabled: false, ttlMs: { function: 1_000 } }],
      ]),
    };
    assert.equal(ttl(fn, settings), 1_000);
    assert.equal(ttl({ ...fn, workspaceId: WS.toUpperCase() }, settings), 1_000, 'ids compare case-insensitively');
    assert.equal(ttl({ ...fn, node: { ttlMs: 9_000 } }, settings), 9_000);
    assert.equal(ttl({ ...fn, nodeType: 'agent' }, settings), 7 * 24 * HOUR, 'types the workspace does not name');
    assert.equal(ttl(http('GET', { enabled: true, ttlMs: 9_000 }), settings), 'workspace_off', 'a TTL of 0 is off');
    const other = { ...fn, workspaceId: '1f8fad5b-d9cb-469f-a165-70867728950e', node: { enabled: true } };
    assert.equal(ttl(other, settings), 'workspace_off');
    assert.equal(ttl({ ...fn, workspaceId: '2f8fad5b-d9cb-469f-a165-70867728950e' }, settings), 7 * 24 * HOUR);
  });

  it('is off everywhere with CACHE_ENABLED=false, and for runs whose permission is not known', () => {
    assert.equal(ttl({ ...fn, node: { enabled: true } }, { ...on, enabled: false }), 'off');
    assert.equal(ttl({ ...fn, permission: null }), 'unknown_permission');
    assert.equal(ttl({ ...fn, permission: 'root' }), 'unknown_permission');
    for (const permission of ['read', 'write', 'admin']) {
      const decision = cacheDecision({ ...fn, permission }, on);
      assert.equal(decision.cache && decision.permission, permission);
    }
  });
});
