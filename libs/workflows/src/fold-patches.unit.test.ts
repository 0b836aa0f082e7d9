import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { foldPatches, type PendingPatch } from './fold-patches.js';
import type { PatchOperation } from './patch-ops.js';
import { apiExample } from './test-fixtures.js';

const base = (appliedThroughSeq = 0) => ({ definition: apiExample(), appliedThroughSeq });
const patch = (seq: number, ...ops: PatchOperation[]): PendingPatch => ({ id: `p${seq}`, seq, ops });
const addDelay = (seq: number, id: string, ms = 1) =>
  patch(seq, { op: 'add', path: `/nodes/${id}`, value: { type: 'delay', config: { ms } } });

describe('foldPatches', () => {
  it('applies patches in order and reports each', () => {
    const result = foldPatches(base(), [
      addDelay(1, 'later'),
      patch(2, { op: 'add', path: '/edges/-', value: { from: 'review', to: 'later' } }),
      patch(3, { op: 'replace', path: '/nodes/later/config/ms', value: 60_000 }),
    ]);
    assert.deepEqual(result.decisions, [
      { patchId: 'p1', seq: 1, status: 'applied' },
      { patchId: 'p2', seq: 2, status: 'applied' },
      { patchId: 'p3', seq: 3, status: 'applied' },
    ]);
    assert.equal(result.applied, 3);
    assert.equal(result.appliedThroughSeq, 3);
    assert.deepEqual(result.definition.nodes.later, { type: 'delay', config: { ms: 60_000 } });
    assert.deepEqual(result.definition.edges.at(-1), { from: 'review', to: 'later' });
  });

  it('rejects a patch whose test fails, with the reason, and still applies the next one', () => {
    const result = foldPatches(base(), [
      patch(1, { op: 'test', path: '/nodes/fetch/type', value: 'function' }, { op: 'remove', path: '/nodes/wait' }),
      addDelay(2, 'after'),
    ]);
    assert.deepEqual(result.decisions, [
      { patchId: 'p1', seq: 1, status: 'rejected', reason: 'ops[0] (test /nodes/fetch/type): value differs' },
      { patchId: 'p2', seq: 2, status: 'applied' },
    ]);
    assert.ok(result.definition.nodes.wait, 'the rejected patch removed nothing');
    assert.ok(result.definition.nodes.after);
    assert.equal(result.applied, 1);
    assert.equal(result.appliedThroughSeq, 2);
  });

  it('leaves no trace of a rejected patch whose early ops succeeded', () => {
    const result = foldPatches(base(), [
      patch(
        1,
        { op: 'replace', path: '/nodes/wait/config/ms', value: 5 },
        { op: 'add', path: '/nodes/extra', value: { type: 'delay', config: { ms: 1 } } },
        { op: 'remove', path: '/nodes/zz' },
      ),
    ]);
    assert.deepEqual(result.decisions, [
      { patchId: 'p1', seq: 1, status: 'rejected', reason: 'ops[2] (remove /nodes/zz): path does not exist' },
    ]);
    assert.deepEqual(result.definition, apiExample());
    assert.equal(result.appliedThroughSeq, 1, 'a rejected patch is still decided');
  });

  it('names what failed for each kind of op', () => {
    const reasons = foldPatches(base(), [
      patch(1, { op: 'add', path: '/nodes/nope/config/ms', value: 1 }),
      patch(2, { op: 'replace', path: '/nodes/nope', value: 1 }),
      patch(3, { op: 'move', from: '/nodes/nope', path: '/nodes/x' }),
      patch(4, { op: 'copy', from: '/nodes/wait', path: '/edges/9' }),
      patch(5, { op: 'move', from: '/nodes', path: '/nodes/inner' }),
    ]).decisions.map((d) => (d.status === 'rejected' ? d.reason : d.status));
    assert.deepEqual(reasons, [
      'ops[0] (add /nodes/nope/config/ms): parent path does not exist (or array index out of range)',
      'ops[0] (replace /nodes/nope): path does not exist',
      'ops[0] (move /nodes/x from /nodes/nope): "from" path /nodes/nope does not exist',
      'ops[0] (copy /edges/9 from /nodes/wait): parent path does not exist (or array index out of range)',
      'invalid ops: ops[0]: cannot move /nodes into itself (path is inside from)',
    ]);
  });

  it('rejects a patch whose result is not a valid definition, quoting the errors', () => {
    const result = foldPatches(base(), [
      patch(1, { op: 'add', path: '/edges/-', value: { from: 'review', to: 'fetch' } }),
      patch(2, { op: 'replace', path: '/nodes/wait/type', value: 'teleport' }),
      patch(3, { op: 'add', path: '/edges/-', value: { from: 'wait', to: 'ghost' } }),
      patch(4, { op: 'replace', path: '/nodes/fetch/config/url', value: 'http://169.254.169.254/' }),
      addDelay(5, 'ok'),
    ]);
    assert.deepEqual(
      result.decisions.map((d) => (d.status === 'rejected' ? d.reason : d.status)),
      [
        'invalid definition: edges: cycle through fetch -> shape -> review -> fetch',
        'invalid definition: nodes.wait.type: unknown node type "teleport" (known: function, http_request, agent, hitl, delay)',
        'invalid definition: edges[2].to: no node "ghost"',
        'invalid definition: nodes.fetch.config.url: http_request may not target 169.254.169.254 (cloud metadata endpoint)',
        'applied',
      ],
    );
    assert.deepEqual(Object.keys(result.definition.nodes), ['fetch', 'shape', 'review', 'wait', 'ok']);
    assert.equal(result.definition.edges.length, 2);
  });

  it('rejects a patch whose result has a regex the linear-time engine refuses, naming the expression', () => {
    const result = foldPatches(base(), [
      patch(1, { op: 'replace', path: '/nodes/shape/config/expression', value: '$match(input.s, /(a)\\1/)' }),
      patch(2, { op: 'replace', path: '/nodes/shape/config/expression', value: '$match(input.s, /(a)+/)' }),
    ]);
    assert.deepEqual(
      result.decisions.map((d) => (d.status === 'rejected' ? d.reason : d.status)),
      [
        'invalid definition: nodes.shape.config.expression: not supported: the linear-time regex engine refuses ' +
          '/(a)\\1/ (at position 23): invalid escape sequence: `\\1`; it has no backreferences or lookarounds',
        'applied',
      ],
    );
  });

  it('validates the result with the same options', () => {
    const local = patch(1, { op: 'replace', path: '/nodes/fetch/config/url', value: 'http://127.0.0.1:9000/' });
    assert.equal(foldPatches(base(), [local]).applied, 0);
    assert.equal(foldPatches(base(), [local], { allowedHosts: ['127.0.0.1'] }).applied, 1);
  });

  it('quotes at most three definition errors', () => {
    const result = foldPatches(base(), [
      patch(1, {
        op: 'replace',
        path: '/nodes',
        value: { a: { type: 'x' }, b: { type: 'y' }, c: { type: 'z' }, d: {} },
      }),
    ]);
    const decision = result.decisions[0];
    assert.equal(decision?.status, 'rejected');
    assert.match(
      decision.status === 'rejected' ? decision.reason : '',
      /^invalid definition: nodes\.a\.type: .*; nodes\.b\.type: .*; nodes\.c\.type: .*; and \d+ more$/,
    );
  });

  it('ignores patches at or below appliedThroughSeq (redelivered duplicates)', () => {
    const result = foldPatches(base(5), [
      addDelay(4, 'old'),
      addDelay(5, 'same'),
      addDelay(6, 'new'),
      addDelay(6, 'again'),
    ]);
    assert.deepEqual(result.decisions, [{ patchId: 'p6', seq: 6, status: 'applied' }]);
    assert.deepEqual(Object.keys(result.definition.nodes), ['fetch', 'shape', 'review', 'wait', 'new']);
    assert.equal(result.appliedThroughSeq, 6);

    const nothing = foldPatches(base(5), [addDelay(3, 'old')]);
    assert.deepEqual(nothing, { definition: apiExample(), appliedThroughSeq: 5, decisions: [], applied: 0 });
  });

  it('sorts patches by seq before applying', () => {
    const result = foldPatches(base(), [
      patch(3, { op: 'replace', path: '/nodes/n/config/ms', value: 3 }),
      addDelay(1, 'n'),
      patch(2, { op: 'test', path: '/nodes/n/config/ms', value: 1 }),
    ]);
    assert.deepEqual(
      result.decisions.map((d) => `${d.seq}:${d.status}`),
      ['1:applied', '2:applied', '3:applied'],
    );
    assert.deepEqual(result.definition.nodes.n?.config, { ms: 3 });
  });

  it('rejects prototype-pollution paths and pollutes nothing', () => {
    const result = foldPatches(base(), [
      patch(1, { op: 'add', path: '/__proto__/polluted', value: true }),
      patch(2, { op: 'add', path: '/constructor/prototype/polluted', value: true }),
      patch(3, { op: 'copy', from: '/nodes/__proto__', path: '/nodes/x' }),
      patch(4, { op: 'replace', path: '/nodes/wait/config/ms', value: 7 }),
    ]);
    assert.deepEqual(
      result.decisions.map((d) => (d.status === 'rejected' ? d.reason : d.status)),
      [
        'invalid ops: ops[0].path: "__proto__" is not allowed in a path',
        'invalid ops: ops[0].path: "constructor" is not allowed in a path',
        'invalid ops: ops[0].from: "__proto__" is not allowed in a path',
        'applied',
      ],
    );
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.hasOwn(result.definition, 'polluted'), false);
    assert.equal(result.definition.nodes.wait?.config.ms, 7);
  });

  it('rejects malformed ops read back from storage instead of throwing', () => {
    const bad = { id: 'bad', seq: 1, ops: [{ op: 'add', path: 'no-slash', value: 1 }] } as unknown as PendingPatch;
    const result = foldPatches(base(), [bad, { id: 'empty', seq: 2, ops: [] }]);
    assert.deepEqual(
      result.decisions.map((d) => (d.status === 'rejected' ? d.reason : d.status)),
      [
        'invalid ops: ops[0].path: must be a JSON Pointer ("" or starting with "/", with "~" only in ~0 or ~1)',
        'invalid ops: ops: must have at least one op',
      ],
    );
  });

  it('replaces the whole definition through the root pointer ""', () => {
    const replacement = { nodes: { only: { type: 'delay', config: { ms: 0 } } }, edges: [] };
    const result = foldPatches(base(), [patch(1, { op: 'replace', path: '', value: replacement })]);
    assert.deepEqual(result.definition, replacement);
    const removed = foldPatches(base(), [patch(1, { op: 'remove', path: '' })]);
    assert.deepEqual(removed.decisions[0], {
      patchId: 'p1',
      seq: 1,
      status: 'rejected',
      reason: 'invalid definition: definition: must be an object',
    });
  });

  it('modifies neither the base nor the patches', () => {
    const start = base();
    const patches = [addDelay(1, 'n'), patch(2, { op: 'replace', path: '/nodes/wait/config/ms', value: 9 })];
    const patchesBefore = structuredClone(patches);
    const result = foldPatches(start, patches);
    assert.deepEqual(start, base());
    assert.deepEqual(patches, patchesBefore);
    result.definition.nodes.wait!.config.ms = 10;
    assert.equal(start.definition.nodes.wait?.config.ms, 1000);
  });

  it('checks array indexes of copy and move as RFC 6902 does', () => {
    const twoEdges = base().definition.edges;
    const moved = foldPatches(base(), [patch(1, { op: 'move', from: '/edges/0', path: '/edges/1' })]);
    assert.deepEqual(moved.definition.edges, [twoEdges[1], twoEdges[0]]);
    const reasons = foldPatches(base(), [
      patch(1, { op: 'move', from: '/edges/0', path: '/edges/2' }),
      patch(2, { op: 'copy', from: '/edges/0', path: '/edges/01' }),
    ]).decisions.map((d) => (d.status === 'rejected' ? d.reason : d.status));
    assert.deepEqual(reasons, [
      'ops[0] (move /edges/2 from /edges/0): parent path does not exist (or array index out of range)',
      'ops[0] (copy /edges/01 from /edges/0): parent path does not exist (or array index out of range)',
    ]);
  });

  it('folds 100 patches in one call', () => {
    // Each patch adds a node fed by "wait"; every tenth is a failing test op instead.
    const patches = Array.from({ length: 100 }, (_, i) =>
      i % 10 === 9
        ? patch(i + 1, { op: 'test', path: '/nodes/wait/type', value: 'agent' })
        : patch(
            i + 1,
            { op: 'add', path: `/nodes/d${i}`, value: { type: 'delay', config: { ms: i } } },
            { op: 'add', path: '/edges/-', value: { from: 'wait', to: `d${i}` } },
          ),
    );
    const started = performance.now();
    const result = foldPatches(base(), patches.reverse());
    assert.deepEqual(
      result.decisions.map((d) => d.seq),
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    assert.equal(result.applied, 90);
    assert.equal(result.decisions.filter((d) => d.status === 'rejected').length, 10);
    assert.equal(result.appliedThroughSeq, 100);
    assert.equal(Object.keys(result.definition.nodes).length, 4 + 90);
    assert.equal(result.definition.edges.length, 2 + 90);
    assert.ok(performance.now() - started < 2000, 'took over two seconds');
  });
});
