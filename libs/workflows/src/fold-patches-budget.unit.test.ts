import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { foldPatches, type PendingPatch } from './fold-patches.js';
import type { PatchOperation } from './patch-ops.js';
import type { WorkflowDefinition } from './workflow-definition.js';

const patch = (seq: number, ...ops: PatchOperation[]): PendingPatch => ({ id: `p${seq}`, seq, ops });
const reasonOf = (decision: { status: string; reason?: string } | undefined) =>
  decision?.status === 'rejected' ? (decision.reason ?? '') : `(${decision?.status})`;
const bytesOf = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

/** Two http nodes whose `body` is free JSON: copies between them make a valid definition of any size. */
const twoBodies = (): WorkflowDefinition => ({
  nodes: {
    h1: { type: 'http_request', config: { method: 'POST', url: 'https://example.org/a', body: { x: 'seed-value' } } },
    h2: { type: 'http_request', config: { method: 'POST', url: 'https://example.org/b', body: { y: 'seed-value' } } },
  },
  edges: [{ from: 'h1', to: 'h2' }],
});
const base = (definition = twoBodies()) => ({ definition, appliedThroughSeq: 0 });

/**
 * The copy bomb without copying anything into itself: each body is copied into the other in turn, so both grow
 * about 2.6 times per pair of ops. 30 pairs would be some 10^13 times the seed.
 */
const BOMB_PAIRS = 30;
const bomb = (seq: number): PendingPatch =>
  patch(
    seq,
    ...Array.from({ length: BOMB_PAIRS }, (_, i): PatchOperation[] => [
      { op: 'copy', from: '/nodes/h1/config/body', path: `/nodes/h2/config/body/k${i}` },
      { op: 'copy', from: '/nodes/h2/config/body', path: `/nodes/h1/config/body/k${i}` },
    ]).flat(),
  );

const nested = (depth: number): unknown => {
  let value: unknown = 'leaf';
  for (let i = 0; i < depth; i++) value = { n: value };
  return value;
};

describe('foldPatches keeps a definition within its budget', () => {
  it('rejects a doubling copy bomb with a reason, quickly, and applies the next patch', () => {
    const started = performance.now();
    const result = foldPatches(base(), [
      bomb(1),
      patch(2, { op: 'replace', path: '/nodes/h1/config/url', value: 'https://example.org/after' }),
    ]);
    assert.ok(performance.now() - started < 1000, `took ${Math.round(performance.now() - started)} ms`);
    // Whichever bound it meets first: the size of the definition or what the patch copied in total.
    assert.match(
      reasonOf(result.decisions[0]),
      /^ops\[\d+\] \(copy .*\): the (definition would exceed|patch copies more than) 1048576 bytes$/,
    );
    assert.equal(result.decisions[1]?.status, 'applied');
    assert.equal(result.definition.nodes.h1?.config.url, 'https://example.org/after');
    assert.deepEqual(result.definition.nodes.h2?.config.body, { y: 'seed-value' }, 'nothing of the bomb is left');
  });

  it('applies copies that stay within the budget', () => {
    const result = foldPatches(base(), [
      patch(1, { op: 'copy', from: '/nodes/h1/config/body', path: '/nodes/h2/config/body/copied' }),
    ]);
    assert.equal(result.decisions[0]?.status, 'applied');
    assert.deepEqual(result.definition.nodes.h2?.config.body, { y: 'seed-value', copied: { x: 'seed-value' } });
  });

  it('counts the definition to the byte: exactly the budget applies, one byte more is rejected', () => {
    const start = twoBodies();
    const maxBytes = bytesOf(start) + 100;
    // Adding member "pad":"…" to h1's body costs `,"pad":""` (9 bytes) plus the characters.
    const fill = (extra: number) =>
      patch(1, { op: 'add', path: '/nodes/h1/config/body/pad', value: 'é'.repeat(extra / 2) + 'a'.repeat(extra % 2) });
    const fits = foldPatches(base(start), [fill(91)], { maxBytes });
    assert.equal(fits.decisions[0]?.status, 'applied');
    assert.equal(bytesOf(fits.definition), maxBytes);
    const over = foldPatches(base(start), [fill(92)], { maxBytes });
    assert.match(reasonOf(over.decisions[0]), /would exceed \d+ bytes/);
  });

  it('checks the size after every op, not only at the end', () => {
    const start = twoBodies();
    const maxBytes = bytesOf(start) + 50;
    const result = foldPatches(
      base(start),
      [
        patch(
          1,
          { op: 'add', path: '/nodes/h1/config/body/big', value: 'x'.repeat(80) },
          { op: 'remove', path: '/nodes/h1/config/body/big' },
        ),
      ],
      { maxBytes },
    );
    assert.match(reasonOf(result.decisions[0]), /^ops\[0\] \(add .*\): the definition would exceed/);
  });

  it('tracks removals, replacements and moves exactly, whatever order they come in', () => {
    const start = twoBodies();
    const ops: PatchOperation[] = [
      { op: 'add', path: '/nodes/h1/config/body/list', value: [1, 'two', { three: [3] }] },
      { op: 'move', from: '/nodes/h1/config/body/list/2', path: '/nodes/h2/config/body/moved' },
      { op: 'move', from: '/nodes/h1/config/body/list/0', path: '/nodes/h1/config/body/list/-' },
      { op: 'copy', from: '/nodes/h2/config/body', path: '/nodes/h1/config/body/list/0' },
      { op: 'replace', path: '/nodes/h2/config/body/y', value: { deeper: ['ü', null, true] } },
      { op: 'remove', path: '/nodes/h1/config/body/x' },
      { op: 'move', from: '/nodes/h2/config/body/moved/three', path: '/nodes/h2/config/body/moved' },
      { op: 'move', from: '/nodes/h1/config/body/list', path: '/nodes/h1/config/body/only' },
      { op: 'add', path: '/nodes/h1/config/body/only/1', value: 'inserted' },
      { op: 'remove', path: '/nodes/h1/config/body/only/0' },
    ];
    // The largest state the patch passes through, measured by applying every prefix of it without a budget.
    const sizes = ops.map((_, k) => {
      const prefix = foldPatches(base(start), [patch(1, ...ops.slice(0, k + 1))], { maxBytes: 1_000_000 });
      assert.equal(prefix.decisions[0]?.status, 'applied', reasonOf(prefix.decisions[0]));
      return bytesOf(prefix.definition);
    });
    const peak = Math.max(...sizes);
    assert.equal(foldPatches(base(start), [patch(1, ...ops)], { maxBytes: peak }).decisions[0]?.status, 'applied');
    assert.match(
      reasonOf(foldPatches(base(start), [patch(1, ...ops)], { maxBytes: peak - 1 }).decisions[0]),
      /would exceed/,
    );
  });

  it('bounds how much one patch may copy, even when it removes each copy again', () => {
    const start = twoBodies();
    (start.nodes.h1 as { config: Record<string, unknown> }).config.body = { blob: 'b'.repeat(10_000) };
    const ops = Array.from({ length: 200 }, (): PatchOperation[] => [
      { op: 'copy', from: '/nodes/h1/config/body', path: '/nodes/h2/config/body/tmp' },
      { op: 'remove', path: '/nodes/h2/config/body/tmp' },
    ]).flat();
    const result = foldPatches(base(start), [patch(1, ...ops)], { maxBytes: 1_000_000 });
    assert.match(reasonOf(result.decisions[0]), /: the patch copies more than 1000000 bytes$/);
  });

  it('rejects values nested deeper than the depth limit, placed directly or built by moves', () => {
    const direct = foldPatches(base(), [
      patch(1, { op: 'add', path: '/nodes/h1/config/body/deep', value: nested(70) }),
    ]);
    assert.match(
      reasonOf(direct.decisions[0]),
      /^ops\[0\] \(add .*\): the definition would nest deeper than 64 levels$/,
    );

    // Two chains of 40, each within the limit, moved one into the other's leaf.
    const leaf = '/n'.repeat(40);
    const moved = foldPatches(base(), [
      patch(
        1,
        { op: 'add', path: '/nodes/h1/config/body/a', value: nested(40) },
        { op: 'add', path: '/nodes/h2/config/body/b', value: nested(40) },
        { op: 'move', from: '/nodes/h1/config/body/a', path: `/nodes/h2/config/body/b${leaf}` },
      ),
    ]);
    assert.match(reasonOf(moved.decisions[0]), /the definition would nest deeper than 64 levels$/);
  });

  it('refuses array members that are not elements (a replaced "length" would allocate billions of slots)', () => {
    const started = performance.now();
    const result = foldPatches(base(), [
      patch(1, { op: 'replace', path: '/edges/length', value: 4_294_967_295 }),
      patch(2, { op: 'remove', path: '/edges/length' }),
      patch(3, { op: 'copy', from: '/edges/length', path: '/nodes/h1/config/body/n' }),
      patch(4, { op: 'test', path: '/nodes/h1/config/body/toString', value: null }),
    ]);
    assert.ok(performance.now() - started < 1000, `took ${Math.round(performance.now() - started)} ms`);
    assert.deepEqual(result.decisions.map(reasonOf), [
      'ops[0] (replace /edges/length): path does not exist',
      'ops[0] (remove /edges/length): path does not exist',
      'ops[0] (copy /nodes/h1/config/body/n from /edges/length): "from" path /edges/length does not exist',
      'ops[0] (test /nodes/h1/config/body/toString): value differs',
    ]);
    assert.equal(result.definition.edges.length, 1);
  });
});
