import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import jsonata from 'jsonata';
import { ExpressionError, ExpressionEvaluator, refusedRegexLiterals } from './index.js';

const refused = (expression: string) => refusedRegexLiterals(jsonata(expression).ast());
const literals = (expression: string) => refused(expression).map((r) => r.literal);

describe('regex literals the linear engine refuses', () => {
  it('finds a backreference, with the literal as written and RE2’s reason', () => {
    assert.deepEqual(refused('$match(input.s, /(a)\\1/)'), [
      { literal: '/(a)\\1/', position: 23, reason: 'invalid escape sequence: `\\1`' },
    ]);
  });

  it('finds lookaheads and lookbehinds, keeping the flags the user wrote', () => {
    assert.deepEqual(literals('$contains(input.s, /(?=a)/i)'), ['/(?=a)/i']);
    assert.deepEqual(literals('$contains(input.s, /x(?!y)/m)'), ['/x(?!y)/m']);
    assert.deepEqual(literals('$contains(input.s, /(?<=a)b/)'), ['/(?<=a)b/']);
    assert.deepEqual(literals('$contains(input.s, /(?<!a)b/)'), ['/(?<!a)b/']);
    assert.match(refused('$contains(input.s, /(?=a)/)')[0]?.reason ?? '', /unsupported Perl syntax: `\(\?=`/);
  });

  it('finds a repeat count past RE2’s limit of 1000', () => {
    assert.deepEqual(literals('$contains(input.s, /a{1001}/)'), ['/a{1001}/']);
  });

  it('finds them wherever they nest: calls, lambdas, filters, conditions, objects, transforms, chains', () => {
    const expression = `(
      $f := function($s) { $replace($s, /(a)\\1/, "") };
      $g := $split(?, /b(?=c)/);
      input.items[$contains(name, /(?<=x)y/)].{
        "k": $exists(v) ? $match(v, /(q)\\1/) : [$split(v, /(?!z)/)]
      } ~> | $ | {"t": $contains(t, /(w)\\1/)} | ~> $map(function($v) { $v ~> $match(/(?=n)/) })
    )`;
    assert.deepEqual(literals(expression), [
      '/(a)\\1/',
      '/b(?=c)/',
      '/(?<=x)y/',
      '/(q)\\1/',
      '/(?!z)/',
      '/(w)\\1/',
      '/(?=n)/',
    ]);
  });

  it('lets through what the linear engine compiles, as well as expressions without regexes', () => {
    assert.deepEqual(refused('$contains(input.s, /^a+(b|c)*?\\d{2,1000}$/i) and $match(x, /(x+x+)+y/m)'), []);
    assert.deepEqual(refused('$contains(input.s, "(a)\\\\1")'), [], 'a string is not a regex');
    assert.deepEqual(refused('input.x * 2'), []);
  });

  it('agrees with evaluation: what it refuses fails when it runs, what it passes runs', async () => {
    const evaluator = new ExpressionEvaluator({ timeoutMs: 1_000, maxDepth: 100, threads: 1 });
    try {
      await assert.rejects(evaluator.evaluate('$match("aa", /(a)\\1/)', {}), (error: unknown) => {
        assert.ok(error instanceof ExpressionError);
        assert.match(error.message, /invalid escape sequence/);
        return true;
      });
      assert.equal(await evaluator.evaluate('$contains("AB", /^a+b$/i)', {}), true);
    } finally {
      await evaluator.close();
    }
  });
});
