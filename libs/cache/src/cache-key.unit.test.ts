import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalDigest, nodeCacheKey, type NodeCacheKeyParts } from './cache-key.js';

const WS = '0f8fad5b-d9cb-469f-a165-70867728950e';
const parts: NodeCacheKeyParts = {
  workspaceId: WS,
  permission: 'write',
  nodeType: 'function',
  config: { expression: 'input.a + input.b' },
  inputs: { input: { a: 1, b: 2, deep: { x: [1, { y: 'z', w: null }] } }, nodes: { up: { $ref: 'sha256:00' } } },
};

describe('node cache keys', () => {
  it('do not depend on the order of object keys, at any depth', () => {
    const reordered: NodeCacheKeyParts = {
      nodeType: 'function',
      inputs: { nodes: { up: { $ref: 'sha256:00' } }, input: { deep: { x: [1, { w: null, y: 'z' }] }, b: 2, a: 1 } },
      config: { expression: 'input.a + input.b' },
      permission: 'write',
      workspaceId: WS,
    };
    assert.deepEqual(nodeCacheKey('p:', reordered), nodeCacheKey('p:', parts));
    assert.equal(canonicalDigest({ b: 1, a: 2 }), canonicalDigest({ a: 2, b: 1 }));
    // RFC 8785: one spelling per number, so 1.0 and 1 (or 1e2 and 100) are the same value.
    assert.equal(canonicalDigest(JSON.parse('{"n":1.0,"m":1e2}')), canonicalDigest({ n: 1, m: 100 }));
  });

  it('differ for every part that differs, array order included', () => {
    const base = nodeCacheKey('p:', parts).digest;
    const variants: Partial<NodeCacheKeyParts>[] = [
      { workspaceId: '1f8fad5b-d9cb-469f-a165-70867728950e' },
      { permission: 'admin' },
      { nodeType: 'agent' },
      { config: { expression: 'input.a - input.b' } },
      { inputs: { ...(parts.inputs as object), input: { a: 1, b: 3 } } },
      {
        inputs: { input: { deep: { x: [{ y: 'z', w: null }, 1] }, a: 1, b: 2 }, nodes: { up: { $ref: 'sha256:00' } } },
      },
      { inputs: null },
    ];
    const digests = variants.map((v) => nodeCacheKey('p:', { ...parts, ...v }).digest);
    assert.equal(new Set([base, ...digests]).size, variants.length + 1);
    // A value and its JSON text are not the same input.
    assert.notEqual(canonicalDigest({ a: 1 }), canonicalDigest('{"a":1}'));
  });

  it('keep a workspace’s entry and lease under one Redis Cluster hash tag, behind the deployment prefix', () => {
    const key = nodeCacheKey('orchestrator:', parts);
    assert.match(key.digest, /^[0-9a-f]{64}$/);
    assert.equal(key.entry, `orchestrator:cache:{ws:${WS}}:node:${parts.nodeType}:${key.digest}`);
    assert.equal(key.lease, `orchestrator:cache:{ws:${WS}}:lease:${key.digest}`);
    // The same digest and workspace under another prefix are another deployment's keys.
    assert.notEqual(nodeCacheKey('other:', parts).entry, key.entry);
  });

  it('refuse values without a canonical form rather than key them ambiguously', () => {
    assert.throws(() => nodeCacheKey('p:', { ...parts, inputs: { s: '\ud800' } }), /surrogate/i);
    assert.equal(canonicalDigest(undefined), canonicalDigest(null));
  });
});
