import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import jsonata from 'jsonata';
import { ExpressionError, ExpressionEvaluator, expandedSizeBound, linearRegexRefusal, regexLiterals } from './index.js';

const literals = (expression: string) => regexLiterals(jsonata(expression).ast()).map((r) => r.literal);
/** RE2's reason for the one regex literal of `expression`, or null. */
const refusal = (expression: string) => {
  const [found, ...others] = regexLiterals(jsonata(expression).ast());
  assert.ok(found && others.length === 0, `one regex literal in ${expression}`);
  return linearRegexRefusal(found.regex);
};

describe('regex literals of an expression', () => {
  it('gives each as written, with jsonata’s position and the RegExp jsonata built', () => {
    const [found] = regexLiterals(jsonata('$match(input.s, /(a)\\1/i)').ast());
    assert.equal(found?.literal, '/(a)\\1/i');
    assert.equal(found?.position, 24);
    assert.equal(found?.regex.flags, 'gi');
  });

  it('finds them wherever they nest: calls, lambdas, filters, conditions, objects, transforms, chains', () => {
    const expression = `(
      $f := function($s) { $replace($s, /(a)\\1/, "") };
      $g := $split(?, /b(?=c)/);
      input.items[$contains(name, /(?<=x)y/m)].{
        "k": $exists(v) ? $match(v, /(q)\\1/) : [$split(v, /(?!z)/)]
      } ~> | $ | {"t": $contains(t, /(w)\\1/)} | ~> $map(function($v) { $v ~> $match(/(?=n)/) })
    )`;
    assert.deepEqual(literals(expression), [
      '/(a)\\1/',
      '/b(?=c)/',
      '/(?<=x)y/m',
      '/(q)\\1/',
      '/(?!z)/',
      '/(w)\\1/',
      '/(?=n)/',
    ]);
  });

  it('finds none where there are none, and a string is not a regex', () => {
    assert.deepEqual(literals('input.x * 2'), []);
    assert.deepEqual(literals('$contains(input.s, "(a)\\\\1")'), []);
  });
});

describe('linearRegexRefusal', () => {
  it('refuses a backreference, with RE2’s reason', () => {
    assert.equal(refusal('$match(input.s, /(a)\\1/)'), 'invalid escape sequence: `\\1`');
  });

  it('refuses lookaheads and lookbehinds, whatever the flags', () => {
    assert.equal(refusal('$contains(input.s, /(?=a)/i)'), 'invalid or unsupported Perl syntax: `(?=`');
    assert.equal(refusal('$contains(input.s, /x(?!y)/m)'), 'invalid or unsupported Perl syntax: `(?!`');
    assert.match(refusal('$contains(input.s, /(?<=a)b/)') ?? '', /invalid named capture/);
    assert.match(refusal('$contains(input.s, /(?<!a)b/)') ?? '', /invalid named capture/);
  });

  it('refuses a repeat count past RE2’s limit of 1000', () => {
    assert.equal(refusal('$contains(input.s, /a{1001}/)'), 'invalid repeat count: `{1001}`');
  });

  it('passes what the linear engine compiles', () => {
    assert.equal(refusal('$contains(input.s, /^a+(b|c)*?\\d{2,1000}$/i)'), null);
    assert.equal(refusal('$match(x, /(x+x+)+y/m)'), null);
  });

  it('agrees with evaluation: what it refuses fails when it runs, what it passes runs', async () => {
    const evaluator = new ExpressionEvaluator({ timeoutMs: 1_000, maxDepth: 100, threads: 1 });
    try {
      await assert.rejects(evaluator.evaluate('$match("aa", /(a)\\1/)', {}), (error: unknown) => {
        assert.ok(error instanceof ExpressionError);
        assert.match(error.message, /invalid escape sequence: `\\1`/);
        return true;
      });
      assert.equal(await evaluator.evaluate('$contains("AB", /^a+b$/i)', {}), true);
    } finally {
      await evaluator.close();
    }
  });
});

describe('expandedSizeBound', () => {
  const bound = (source: string) => expandedSizeBound(new RegExp(source));

  it('counts each character once, and a counted repeat of one atom as its copies', () => {
    assert.equal(bound('abc'), 3);
    assert.equal(bound('a{1000}'), 1001);
    assert.equal(bound('a{0,1000}'), 1001);
    assert.equal(bound('a{2,}'), 4);
    assert.equal(bound('\\p{L}{1000}'), 1005);
    assert.equal(bound('^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'), 78);
  });

  it('multiplies everything before a repeated group, so nested repeats are never undercounted', () => {
    assert.equal(bound('(a){1000}'), 3000);
    assert.equal(bound('^(\\d{1,3}\\.){3}\\d{1,3}$'), 36);
    assert.ok(bound('(?:(?:a{10}){10}){10}') >= 1000);
  });

  it('takes braces that repeat nothing for repeats: the bound only grows', () => {
    assert.equal(bound('\\{9}'), 10);
    assert.equal(bound('[{5}]'), 7);
  });
});
