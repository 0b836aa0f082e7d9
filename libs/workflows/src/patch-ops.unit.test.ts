import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validatePatchOps } from './patch-ops.js';

const errorsOf = (input: unknown): string[] => {
  const result = validatePatchOps(input);
  assert.equal(result.ok, false, 'expected the ops to be rejected');
  return result.ok ? [] : result.errors;
};

describe('validatePatchOps', () => {
  it('accepts every RFC 6902 op and returns the ops', () => {
    const ops = [
      { op: 'test', path: '/nodes/a/type', value: 'delay' },
      { op: 'add', path: '/nodes/b', value: { type: 'delay', config: { ms: 1 } } },
      { op: 'add', path: '/edges/-', value: null },
      { op: 'replace', path: '', value: {} },
      { op: 'remove', path: '/edges/0' },
      { op: 'move', from: '/nodes/b', path: '/nodes/c' },
      { op: 'copy', from: '/nodes/c', path: '/nodes/d' },
      { op: 'add', path: '/nodes/a~1b/config/~0x', value: false },
    ];
    const result = validatePatchOps(ops);
    assert.equal(result.ok, true, result.ok ? '' : result.errors.join('\n'));
    assert.equal(result.ok && result.value, ops);
  });

  it('needs a non-empty array of at most 1000 objects', () => {
    assert.deepEqual(errorsOf({ op: 'add', path: '/a', value: 1 }), ['ops: must be an array']);
    assert.deepEqual(errorsOf(null), ['ops: must be an array']);
    assert.deepEqual(errorsOf([]), ['ops: must have at least one op']);
    const many = Array.from({ length: 1001 }, () => ({ op: 'remove', path: '/a' }));
    assert.deepEqual(errorsOf(many), ['ops: must have at most 1000 ops']);
    assert.deepEqual(errorsOf([{ op: 'remove', path: '/a' }, 'remove']), ['ops[1]: must be an object']);
  });

  it('names an unknown or missing op', () => {
    assert.deepEqual(errorsOf([{ op: 'merge', path: '/a' }]), [
      'ops[0].op: unknown op "merge" (known: add, remove, replace, move, copy, test)',
    ]);
    assert.deepEqual(errorsOf([{ op: 1, path: '/a' }]), [
      'ops[0].op: unknown op 1 (known: add, remove, replace, move, copy, test)',
    ]);
    assert.deepEqual(errorsOf([{ path: '/a' }]), ['ops[0]: "op" is required']);
  });

  it('requires value for add, replace and test, and from for move and copy', () => {
    assert.deepEqual(
      errorsOf([
        { op: 'remove', path: '/a' },
        { op: 'remove', path: '/b' },
        { op: 'remove', path: '/c' },
        { op: 'add', path: '/x' },
        { op: 'replace', path: '/x' },
        { op: 'test', path: '/x' },
        { op: 'move', path: '/x' },
        { op: 'copy', path: '/x' },
        { op: 'remove' },
      ]),
      [
        'ops[3]: "value" is required for op "add"',
        'ops[4]: "value" is required for op "replace"',
        'ops[5]: "value" is required for op "test"',
        'ops[6]: "from" is required for op "move"',
        'ops[7]: "from" is required for op "copy"',
        'ops[8]: "path" is required for op "remove"',
      ],
    );
    // `null` is a value; only its absence is an error.
    assert.equal(validatePatchOps([{ op: 'add', path: '/x', value: null }]).ok, true);
  });

  it('refuses members an op does not have', () => {
    assert.deepEqual(
      errorsOf([
        { op: 'add', path: '/x', value: 1, from: '/y' },
        { op: 'remove', path: '/x', value: 1 },
        { op: 'move', path: '/x', from: '/y', value: 1 },
        { op: 'test', path: '/x', value: 1, note: 'hi' },
      ]),
      [
        'ops[0]: "from" is not allowed for op "add"',
        'ops[1]: "value" is not allowed for op "remove"',
        'ops[2]: "value" is not allowed for op "move"',
        'ops[3]: "note" is not allowed for op "test"',
      ],
    );
  });

  it('requires path and from to be JSON Pointers', () => {
    const pointer = 'must be a JSON Pointer ("" or starting with "/", with "~" only in ~0 or ~1)';
    assert.deepEqual(
      errorsOf([
        { op: 'remove', path: 'nodes/a' },
        { op: 'remove', path: '/a~2' },
        { op: 'remove', path: '/a~' },
        { op: 'copy', path: '/a', from: '#/b' },
        { op: 'remove', path: 7 },
      ]),
      [
        `ops[0].path: ${pointer}`,
        `ops[1].path: ${pointer}`,
        `ops[2].path: ${pointer}`,
        `ops[3].from: ${pointer}`,
        'ops[4].path: must be a string',
      ],
    );
  });
  it('refuses pointers through __proto__, constructor or prototype, so the API can answer 422', () => {
    const result = validatePatchOps([
      { op: 'add', path: '/nodes/__proto__/x', value: 1 },
      { op: 'move', from: '/constructor/prototype', path: '/nodes/y' },
    ]);
    assert.deepEqual(result.ok ? [] : result.errors, [
      'ops[0].path: "__proto__" is not allowed in a path',
      'ops[1].from: "constructor" is not allowed in a path',
    ]);
  });

  it('refuses a copy or move into the value it takes from, which the API can tell without the document', () => {
    assert.deepEqual(
      errorsOf([
        { op: 'copy', from: '/nodes/a/config', path: '/nodes/a/config/k1' },
        { op: 'move', from: '/nodes/a', path: '/nodes/a/config/x' },
        { op: 'copy', from: '', path: '/nodes/b' },
        { op: 'copy', from: '/nodes/a~1b', path: '/nodes/a~1b/c' },
      ]),
      [
        'ops[0]: cannot copy /nodes/a/config into itself (path is inside from)',
        'ops[1]: cannot move /nodes/a into itself (path is inside from)',
        'ops[2]: cannot copy "" into itself (path is inside from)',
        'ops[3]: cannot copy /nodes/a~1b into itself (path is inside from)',
      ],
    );
    // Siblings and prefixes that are not whole tokens are fine, and so is a copy onto itself.
    const fine = validatePatchOps([
      { op: 'copy', from: '/nodes/a', path: '/nodes/ab' },
      { op: 'copy', from: '/nodes/a/config', path: '/nodes/b/config' },
      { op: 'copy', from: '/nodes/a', path: '/nodes/a' },
      { op: 'move', from: '/nodes/a/config', path: '/nodes/a' },
    ]);
    assert.equal(fine.ok, true, fine.ok ? '' : fine.errors.join('\n'));
  });
});
