import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import jsonata from 'jsonata';
import { BoundedExpressions } from './bounded-expressions.js';
import { ExpressionError, ExpressionEvaluator, ExpressionLimitError } from './index.js';

const TIMEOUT_MS = 300;
/** Wall time a limited evaluation may take beyond its limit: a thread is killed and the answer travels back. */
const SLACK_MS = 1_500;

const evaluator = new ExpressionEvaluator({
  timeoutMs: TIMEOUT_MS,
  maxDepth: 200,
  threads: 2,
  maxHeapMb: 512,
  maxResultBytes: 1_000_000,
});
// The threads are warm before the clocks start, as in a running process.
before(() => evaluator.evaluate('true', null));
after(() => evaluator.close());

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const started = performance.now();
  try {
    const value = await work();
    return { ms: performance.now() - started, value };
  } catch (error) {
    return { ms: performance.now() - started, error };
  }
}

function assertLimit(outcome: { ms: number; error?: unknown; value?: unknown }, pattern: RegExp): void {
  assert.ok(outcome.error instanceof ExpressionLimitError, `expected a limit error, got ${String(outcome.value)}`);
  assert.equal(outcome.error.name, 'ExpressionLimitError');
  assert.match(outcome.error.message, pattern);
  assert.ok(outcome.ms < TIMEOUT_MS + SLACK_MS, `stopped after ${Math.round(outcome.ms)} ms`);
}

const data = {
  input: { x: 4, name: 'Zoë 🚀 Smith', tags: ['a', 'b', 'c'], text: 'order-12, order-345 and ORDER-6' },
  nodes: { a: { items: [{ price: 2, qty: 3 }, { price: 5 }] }, b: 'x\ny' },
};

describe('expression evaluator', () => {
  it('answers a catastrophic-backtracking regex at once: regexes run on a linear-time engine', async () => {
    // 28 x's: about 4 s of backtracking in V8's engine on this machine, and each x more doubles it.
    const outcome = await timed(() => evaluator.evaluate(`$contains("${'x'.repeat(28)}", /(x+x+)+y/)`, data));
    assert.equal(outcome.error, undefined);
    assert.equal(outcome.value, false);
    // Wall time, with the thread's start on a busy machine (473 ms seen in CI): a backtracking engine would have been
    // stopped at 300 ms of CPU with an error (asserted above), and left to run would take seconds.
    assert.ok(outcome.ms < 2_000, `took ${Math.round(outcome.ms)} ms`);
  });

  it('stops a built-in that runs long between two of jsonata own checks, with ExpressionLimitError', async () => {
    // $distinct is quadratic and native: 200 000 items keep it busy for seconds in one evaluation step.
    assertLimit(await timed(() => evaluator.evaluate('$count($distinct([1..200000]))', data)), /300 ms/);
  });

  it('stops string bombs before they allocate: $pad and $join past the size limit', async () => {
    // 400 MB in one allocation: past a thread's heap cap, V8 would abort the whole process, not just the thread.
    assertLimit(await timed(() => evaluator.evaluate('$length($pad("", 400000000))', data)), /\$pad would build/);
    const blobs = { input: { blob: 'y'.repeat(400_000) }, nodes: {} };
    const joined = await timed(() => evaluator.evaluate('$length($join([input.blob, input.blob, input.blob]))', blobs));
    assertLimit(joined, /\$join would build 1200000 characters/);
    assert.equal(await evaluator.evaluate('$length($pad("", 1000))', data), 1000);
  });

  it('stops a ten-million-item range at the time limit, and the process lives on', async () => {
    // One 80 MB allocation: with a small heap cap V8 would abort the process rather than the thread.
    assertLimit(await timed(() => evaluator.evaluate('$count([1..10000000].[$, $])', data)), /300 ms/);
  });

  it('refuses a result above the byte budget', async () => {
    const big = { input: { blob: 'y'.repeat(2_000_000) }, nodes: {} };
    assertLimit(await timed(() => evaluator.evaluate('input.blob', big)), /over 1000000 bytes/);
  });

  it('gives the results in-process jsonata gives for everyday expressions', async () => {
    const expressions = [
      'input.x * 2',
      'input.x > 3 and nodes.b = "x\\ny"',
      '$sum(nodes.a.items.(price * (qty ? qty : 1)))',
      '{"n": input.name, "upper": $uppercase(input.name), "len": $length(input.name)}',
      '$match(input.text, /order-(\\d+)/i)',
      '$replace(input.text, /order-(\\d+)/, "#$1")',
      '$split(input.text, /,? and |, /)',
      '$contains(input.name, /🚀 s/i)',
      '$match(input.name, /[^ ]+$/).start',
      '$contains(nodes.b, /^y$/m)',
      'input.tags[$ != "b"]',
      'input.missing',
      'nodes.a.items^(>price).price',
      '$string(nodes.a)',
    ];
    for (const expression of expressions) {
      const expected: unknown = await jsonata(expression).evaluate(data);
      const actual = await evaluator.evaluate(expression, data);
      assert.deepEqual(
        JSON.parse(JSON.stringify(actual ?? null)),
        JSON.parse(JSON.stringify(expected ?? null)),
        expression,
      );
    }
  });

  it('reports a bad expression as ExpressionError, not as a limit', async () => {
    const outcome = await timed(() => evaluator.evaluate('input.x + "a"', data));
    assert.ok(outcome.error instanceof ExpressionError);
    assert.ok(!(outcome.error instanceof ExpressionLimitError));
    assert.match(outcome.error.message, /^T2002: .* in "input.x \+ "a""$/);
  });

  it('keeps answering after threads were killed, and does not count time spent queued against an expression', async () => {
    const runaway = Array.from({ length: 3 }, () => evaluator.evaluate('$count($distinct([1..200000]))', data));
    // Queued behind the runaways on a two-thread pool: these wait for a thread, then answer.
    const everyday = Array.from({ length: 20 }, (_, i) => evaluator.evaluate(`$sum([input.x, ${i}])`, data));
    const settled = await Promise.allSettled(runaway);
    assert.ok(settled.every((s) => s.status === 'rejected' && s.reason instanceof ExpressionLimitError));
    assert.deepEqual(
      await Promise.all(everyday),
      Array.from({ length: 20 }, (_, i) => 4 + i),
    );
    assert.equal(await evaluator.evaluate('input.x', data), 4);
  });

  it('answers an expression linear in its data on the caller, without waiting for a thread', async () => {
    const oneThread = new ExpressionEvaluator({ timeoutMs: TIMEOUT_MS, maxDepth: 200, threads: 1 });
    try {
      await oneThread.evaluate('$sum([1])', null);
      const order: string[] = [];
      const note = (name: string) => (outcome: unknown) => (order.push(name), outcome);
      const runaway = oneThread.evaluate('$count($distinct([1..200000]))', data).then(note('runaway'), note('runaway'));
      const threaded = oneThread.evaluate('$sum([input.x, 1])', data).then(note('threaded'));
      const inline = oneThread.evaluate('input.x + 1', data).then(note('inline'));
      assert.deepEqual(await Promise.all([inline, threaded]), [5, 5]);
      await runaway;
      assert.deepEqual(order, ['inline', 'runaway', 'threaded']);
    } finally {
      await oneThread.close();
    }
  });
});

describe('bounded expressions', () => {
  const bounded = new BoundedExpressions();
  const reads = (n: number) => Array.from({ length: n }, (_, i) => `input.f${i}`).join(' + ');

  it('takes field paths, literals, arithmetic, comparisons, conditions and constructors', () => {
    for (const expression of [
      'input.x',
      '$.input.x',
      'nodes.a + 1',
      'nodes.b * 2',
      '-input.x',
      'nodes.a.ok = true and input.y > 3 or input.`odd name` != null',
      'input.flag ? "yes" : "no"',
      '{"a": input.x, "b": [input.y, 1, "s"]}',
      'input.s & "-" & input.t',
      'input.x in ["a", "b"]',
      '(input.x; 2)',
      reads(8),
    ]) {
      assert.ok(bounded.has(expression), expression);
    }
  });

  it('leaves to the threads whatever could take longer than its data, or is not recognised', () => {
    for (const expression of [
      '$sum(input.xs)',
      '[1..10000000]',
      'input.*',
      'input.**',
      'input[0]',
      'input.xs[x > 1]',
      'input.xs^(x)',
      'input.xs{x: y}',
      '$$.input',
      '$x := input',
      'function($a) { $a }',
      'input.(x + 1)',
      'input.xs.($$.input.xs.($$.input.xs))',
      '$contains(input.s, /a+/)',
      'input.s ~> $uppercase',
      'input.x +',
      `input.${'x'.repeat(1_000)}`,
      reads(9),
    ]) {
      assert.ok(!bounded.has(expression), expression);
    }
  });
});
