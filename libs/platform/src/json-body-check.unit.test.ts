import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonBodyProblem } from './json-body-check.js';

describe('jsonBodyProblem', () => {
  it('accepts ordinary bodies, whatever their text', () => {
    assert.equal(jsonBodyProblem({ ops: [{ op: 'add', path: '/x', value: 'é 😀 \n "' }] }, 64), null);
    assert.equal(jsonBodyProblem(null, 64), null);
    assert.equal(jsonBodyProblem('just text', 1), null);
  });

  it('names the first field holding U+0000 or a lone surrogate, in values and in keys', () => {
    assert.equal(
      jsonBodyProblem({ ops: [{ op: 'add', value: { list: ['ok', 'a\u0000'] } }] }, 64),
      'ops[0].value.list[1]: text may not contain U+0000 (NUL)',
    );
    assert.equal(
      jsonBodyProblem({ definition: { nodes: { 'a b\u0000': {} } } }, 64),
      'definition.nodes["a b\\u0000"] (the key): text may not contain U+0000 (NUL)',
    );
    assert.equal(jsonBodyProblem({ s: 'x\udc00' }, 64), 's: text may not contain a lone UTF-16 surrogate');
    assert.equal(jsonBodyProblem('\u0000', 64), 'body: text may not contain U+0000 (NUL)');
  });

  it('refuses nesting past the limit, without recursing into it', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    assert.equal(jsonBodyProblem({ input: deep }, 64), `input${'[0]'.repeat(63)}: nests deeper than 64 levels`);
    let exactly: unknown = 1;
    for (let i = 0; i < 63; i++) exactly = [exactly];
    assert.equal(jsonBodyProblem({ input: exactly }, 64), null);
  });
});
