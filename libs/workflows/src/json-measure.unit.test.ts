import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { measureJson } from './json-measure.js';

const utf8 = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

describe('measureJson', () => {
  it('counts the UTF-8 bytes JSON.stringify writes, escapes and all', () => {
    const samples: unknown[] = [
      null,
      true,
      false,
      0,
      -12.5e-7,
      1e21,
      '',
      'plain',
      'quote " backslash \\ slash /',
      'controls \b\f\n\r\t \u0001 \u001f',
      'é ü ß — € 漢字',
      'emoji 😀 pair',
      'lone \ud800 high and \udc00 low',
      [],
      {},
      [1, [2, [3]], { a: null }],
      { 'key "quoted"': 'v', é: [true, false], '': {} },
      { nodes: { a: { type: 'delay', config: { ms: 1 } } }, edges: [{ from: 'a', to: 'b', when: 'x > 1' }] },
    ];
    for (const sample of samples) assert.equal(measureJson(sample).bytes, utf8(sample), JSON.stringify(sample));
  });

  it('reports nesting depth: 0 for a scalar, one per container on the deepest path', () => {
    assert.equal(measureJson('x').depth, 0);
    assert.equal(measureJson({}).depth, 1);
    assert.equal(measureJson([[], { a: [1] }]).depth, 3);
  });

  it('walks deep values without recursion and stops early past a limit', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 50_000; i++) deep = [deep];
    assert.deepEqual(measureJson(deep), { bytes: 100_001, depth: 50_000 });
    assert.equal(measureJson(deep, { maxDepth: 64 }).depth, 65);
    const wide = { list: Array.from({ length: 100_000 }, () => 'xxxxxxxxxx') };
    const partial = measureJson(wide, { maxBytes: 1_000 });
    assert.ok(partial.bytes > 1_000, String(partial.bytes));
  });
});
