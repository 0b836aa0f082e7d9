import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { WorkflowDefinition } from '#libs/workflows';
import { ExpressionError, ExpressionEvaluator, ExpressionLimitError } from '#libs/expressions';
import * as machine from './run-machine.js';
import { initialState, type MachineContext } from './run-machine.js';
import type { Effect, RunInput, RunState } from './run-state.js';

/** Freezes a state whole, so that a transition writing to the state it was given throws (modules are strict). */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
// Every transition below is given a frozen state: the machine copies on write and must never change its input.
const startRun: typeof machine.startRun = (current, ...rest) => machine.startRun(deepFreeze(current), ...rest);
const applyInput: typeof machine.applyInput = (current, ...rest) => machine.applyInput(deepFreeze(current), ...rest);

const evaluator = new ExpressionEvaluator();
after(() => evaluator.close());
const fn = (expression = '1') => ({ type: 'function' as const, config: { expression } });

function context(definition: WorkflowDefinition, overrides: Partial<MachineContext> = {}): MachineContext {
  return {
    definition,
    input: { n: 2 },
    now: 1_000,
    random: () => 0.5,
    evaluate: (expression, data) => evaluator.evaluate(expression, data),
    runTimeoutMs: null,
    ...overrides,
  };
}

/** a → b → c, three function nodes. */
const chain = (): WorkflowDefinition => ({
  nodes: { a: fn(), b: fn(), c: fn() },
  edges: [
    { from: 'a', to: 'b' },
    { from: 'b', to: 'c' },
  ],
});
const dispatched = (effects: readonly Effect[]) =>
  effects.filter((e) => e.type === 'dispatch').map((e) => (e.type === 'dispatch' ? `${e.nodeId}#${e.attempt}` : ''));
const kinds = (effects: readonly Effect[]) =>
  effects
    .filter((e) => e.type === 'event')
    .map((e) => (e.type === 'event' ? `${e.kind}${e.nodeId ? `:${e.nodeId}` : ''}` : ''));
const ok = (nodeId: string, output: unknown = null, attempt = 1): RunInput => ({
  kind: 'completed',
  nodeId,
  attempt,
  succeeded: true,
  output,
  at: 1_000,
});
const fail = (nodeId: string, attempt = 1, error = 'boom'): RunInput => ({
  kind: 'completed',
  nodeId,
  attempt,
  succeeded: false,
  error,
  at: 1_000,
});

async function feed(ctx: MachineContext, state: RunState, ...inputs: RunInput[]) {
  let effects: Effect[] = [];
  for (const input of inputs) {
    const next = await applyInput(state, input, ctx);
    state = next.state;
    effects = [...effects, ...next.effects];
  }
  return { state, effects };
}

describe('run machine', () => {
  it('records a cached completion on the node, in its event and as a cache_hit effect', async () => {
    const ctx = context({
      nodes: { a: { ...fn(), cache: { ttlMs: 5_000 } }, b: fn() },
      edges: [{ from: 'a', to: 'b' }],
    });
    const start = await startRun(initialState(ctx.definition), ctx, 900);
    const task = start.effects.find((e) => e.type === 'dispatch');
    assert.ok(task?.type === 'dispatch');
    assert.deepEqual(task.cache, { ttlMs: 5_000 }, 'the node setting travels with its task');
    const cached = { fromRunId: 'r0', fromNodeId: 'x', producedAt: Date.UTC(2026, 0, 2), durationMs: 1_234 };
    const hit = await feed(ctx, start.state, { ...(ok('a', 7) as Extract<RunInput, { kind: 'completed' }>), cached });
    // A completion without `match` (from a worker before it existed) was an exact hit.
    const from = {
      fromRunId: 'r0',
      fromNodeId: 'x',
      producedAt: '2026-01-02T00:00:00.000Z',
      savedMs: 1_234,
      match: 'exact',
    };
    assert.deepEqual(hit.state.nodes.a, { status: 'succeeded', attempts: 1, output: 7, cached: from });
    const event = hit.effects.find((e) => e.type === 'event' && e.kind === 'node.completed');
    assert.deepEqual(event?.type === 'event' && event.detail, {
      attempt: 1,
      cached: true,
      fromRunId: 'r0',
      fromNodeId: 'x',
      producedAt: '2026-01-02T00:00:00.000Z',
      match: 'exact',
    });
    assert.deepEqual(
      hit.effects.filter((e) => e.type === 'cache_hit'),
      [{ type: 'cache_hit', nodeId: 'a', nodeType: 'function', attempt: 1, ...from }],
    );
    const semantic = await feed(ctx, start.state, {
      ...(ok('a', 7) as Extract<RunInput, { kind: 'completed' }>),
      cached: { ...cached, match: 'semantic', similarity: 0.95 },
    });
    assert.deepEqual(semantic.state.nodes.a?.cached, { ...from, match: 'semantic', similarity: 0.95 });
    const semanticEvent = semantic.effects.find((e) => e.type === 'event' && e.kind === 'node.completed');
    assert.deepEqual(
      semanticEvent?.type === 'event' && [semanticEvent.detail?.match, semanticEvent.detail?.similarity],
      ['semantic', 0.95],
    );
    const plain = await feed(ctx, hit.state, ok('b', 8));
    assert.equal(plain.state.nodes.b?.cached, undefined);
    assert.equal(plain.effects.filter((e) => e.type === 'cache_hit').length, 0);
    const second = plain.effects.find((e) => e.type === 'event' && e.kind === 'node.completed');
    assert.deepEqual(second?.type === 'event' && second.detail, { attempt: 1 });
  });

  it('names the tokens a cached agent answer did not spend in its cache_hit effect', async () => {
    const agent = { type: 'agent' as const, config: { model: 'm', prompt: 'hi' } };
    const ctx = context({ nodes: { a: agent, b: fn() }, edges: [{ from: 'a', to: 'b' }] });
    const start = await startRun(initialState(ctx.definition), ctx, 900);
    const cached = { fromRunId: 'r0', fromNodeId: 'x', producedAt: Date.UTC(2026, 0, 2), durationMs: 500 };
    const answer = {
      text: 'yo',
      model: 'm-2024',
      finishReason: 'stop',
      usage: { promptTokens: 12, completionTokens: 30 },
    };
    const completed = (output: unknown) => ({
      ...(ok('a', output) as Extract<RunInput, { kind: 'completed' }>),
      cached,
    });
    const hit = await feed(ctx, start.state, completed(answer));
    const effect = hit.effects.find((e) => e.type === 'cache_hit');
    assert.deepEqual(effect?.type === 'cache_hit' && effect.tokens, {
      model: 'm-2024',
      promptTokens: 12,
      completionTokens: 30,
    });
    // An answer without usage (the model API sent none) saved time, but no counted tokens.
    const bare = await feed(ctx, start.state, completed({ ...answer, usage: null }));
    const none = bare.effects.find((e) => e.type === 'cache_hit');
    assert.ok(none?.type === 'cache_hit');
    assert.equal('tokens' in none, false);
  });

  it('runs a chain node by node and completes with the sink output', async () => {
    const ctx = context(chain());
    const start = await startRun(initialState(ctx.definition), ctx, 900);
    assert.deepEqual(dispatched(start.effects), ['a#1']);
    const first = start.effects.find((e) => e.type === 'dispatch');
    assert.ok(first?.type === 'dispatch');
    assert.equal(first.fromType, 'start');
    assert.equal(first.triggeredAt, 900);
    const afterA = await feed(ctx, start.state, ok('a', 1));
    assert.deepEqual(dispatched(afterA.effects), ['b#1']);
    const done = await feed(ctx, afterA.state, ok('b', 2), ok('c', 3));
    assert.equal(done.state.status, 'completed');
    assert.deepEqual(done.state.output, { c: 3 });
    const seqs = [...start.effects, ...afterA.effects, ...done.effects].flatMap((e) =>
      e.type === 'event' ? [e.seq] : [],
    );
    assert.deepEqual(
      seqs,
      seqs.map((_, i) => i + 1),
      'run events are numbered without gaps',
    );
  });

  it('copies only what a transition changes: the other nodes and their outputs are shared with the state before', async () => {
    const ctx = context(chain());
    const big = { rows: Array.from({ length: 1_000 }, (_, i) => ({ i })) };
    const afterA = await feed(ctx, (await startRun(initialState(ctx.definition), ctx, 900)).state, ok('a', big));
    const afterB = await applyInput(afterA.state, ok('b', 2), ctx);
    assert.equal(afterB.state.nodes.a, afterA.state.nodes.a, 'node a, untouched, is not copied');
    assert.equal(afterB.state.nodes.a?.output, big, 'nor is its output');
    assert.notEqual(afterB.state.nodes.b, afterA.state.nodes.b, 'node b changed: a copy of its own');
    assert.equal(afterA.state.nodes.b?.status, 'running', 'and the state before keeps b as it was');
    assert.equal(afterB.state.nodes.b?.status, 'succeeded');
  });

  it('joins a diamond: the join waits for both branches and sees both outputs', async () => {
    const ctx = context({
      nodes: { a: fn(), b: fn(), c: fn(), d: fn() },
      edges: [
        { from: 'a', to: 'b' },
        { from: 'a', to: 'c' },
        { from: 'b', to: 'd' },
        { from: 'c', to: 'd' },
      ],
    });
    const start = await startRun(initialState(ctx.definition), ctx, 0);
    const fanOut = await feed(ctx, start.state, ok('a', 'A'));
    assert.deepEqual(dispatched(fanOut.effects), ['b#1', 'c#1']);
    const half = await feed(ctx, fanOut.state, ok('b', 'B'));
    assert.deepEqual(dispatched(half.effects), [], 'd must wait for c');
    const join = await feed(ctx, half.state, ok('c', 'C'));
    const d = join.effects.find((e) => e.type === 'dispatch');
    assert.ok(d?.type === 'dispatch');
    assert.equal(d.nodeId, 'd');
    assert.deepEqual(d.input, { input: { n: 2 }, nodes: { a: 'A', b: 'B', c: 'C' } });
  });

  it('skips a branch whose condition is false, and the skip propagates', async () => {
    const ctx = context({
      nodes: { a: fn(), yes: fn(), no: fn(), after_no: fn() },
      edges: [
        { from: 'a', to: 'yes', when: 'nodes.a.big = true' },
        { from: 'a', to: 'no', when: 'nodes.a.big = false' },
        { from: 'no', to: 'after_no' },
      ],
    });
    const start = await startRun(initialState(ctx.definition), ctx, 0);
    const next = await feed(ctx, start.state, ok('a', { big: true }));
    assert.deepEqual(dispatched(next.effects), ['yes#1']);
    assert.equal(next.state.nodes.no?.status, 'skipped');
    assert.equal(next.state.nodes.after_no?.status, 'skipped');
    const done = await feed(ctx, next.state, ok('yes', 'Y'));
    assert.equal(done.state.status, 'completed');
    assert.deepEqual(done.state.output, { yes: 'Y' });
  });

  it('fails the run, naming the edge and ExpressionLimitError, when a condition runs past a limit', async () => {
    const limited = 'nodes.a.slow';
    const ctx = context(
      {
        nodes: { a: fn(), b: fn(), c: fn() },
        edges: [
          { from: 'a', to: 'b', when: limited },
          { from: 'a', to: 'c', when: 'nodes.a + "text"' },
        ],
      },
      {
        evaluate: (expression, data) =>
          expression === limited
            ? Promise.reject(new ExpressionLimitError(expression, 'stopped after 100 ms'))
            : evaluator.evaluate(expression, data),
      },
    );
    const start = await startRun(initialState(ctx.definition), ctx, 0);
    const next = await feed(ctx, start.state, ok('a', 1));
    assert.equal(next.state.status, 'failed');
    assert.match(next.state.error ?? '', /^edge a → b: ExpressionLimitError: stopped after 100 ms in "nodes.a.slow"$/);
    assert.deepEqual(dispatched(next.effects), []);
    const failed = next.effects.find((e) => e.type === 'event' && e.kind === 'run.failed');
    assert.ok(failed?.type === 'event');
    assert.match(String(failed.detail?.error), /ExpressionLimitError/);
  });

  it('reads a condition that cannot be evaluated as not satisfied, but lets other failures through', async () => {
    const definition = {
      nodes: { a: fn(), b: fn() },
      edges: [{ from: 'a', to: 'b', when: 'nodes.a + "text"' }],
    };
    const ctx = context(definition);
    const start = await startRun(initialState(ctx.definition), ctx, 0);
    const next = await feed(ctx, start.state, ok('a', 1));
    assert.equal(next.state.nodes.b?.status, 'skipped');
    assert.equal(next.state.status, 'completed');
    // The evaluator's own trouble (its pool closed, a thread crashed) is not the expression's: the input is retried.
    const broken = context(definition, { evaluate: () => Promise.reject(new Error('pool closed')) });
    await assert.rejects(feed(broken, start.state, ok('a', 1)), /pool closed/);
    const bad = context(definition, { evaluate: (e) => Promise.reject(new ExpressionError(e, 'T2001: nope')) });
    assert.equal((await feed(bad, start.state, ok('a', 1))).state.nodes.b?.status, 'skipped');
  });

  it('retries with exponential backoff through timers, then fails the run when attempts run out', async () => {
    const ctx = context({
      nodes: {
        h: {
          type: 'http_request',
          config: { method: 'GET', url: 'https://x.test' },
          retry: { maxAttempts: 3, backoffMs: 100 },
        },
      },
      edges: [],
    });
    const start = await startRun(initialState(ctx.definition), ctx, 0);
    const first = await feed(ctx, start.state, fail('h', 1));
    const timer = first.effects.find((e) => e.type === 'set_timer');
    assert.deepEqual(timer, {
      type: 'set_timer',
      key: 'retry:h:2',
      kind: 'retry',
      fireAt: 1_000 + 75,
      nodeId: 'h',
      attempt: 2,
    });
    assert.equal(first.state.status, 'running', 'a run waiting out a backoff is still running');
    const second = await feed(ctx, first.state, { kind: 'timer', timer: 'retry', nodeId: 'h', attempt: 2 });
    assert.deepEqual(dispatched(second.effects), ['h#2']);
    const third = await feed(ctx, second.state, fail('h', 2));
    const timer3 = third.effects.find((e) => e.type === 'set_timer');
    assert.equal(timer3?.type === 'set_timer' && timer3.fireAt, 1_000 + 150, 'the second backoff doubles');
    const last = await feed(ctx, third.state, { kind: 'timer', timer: 'retry', nodeId: 'h', attempt: 3 }, fail('h', 3));
    assert.equal(last.state.status, 'failed');
    assert.match(last.state.error ?? '', /node h failed: boom/);
    assert.equal(last.state.nodes.h?.attempts, 3);
  });

  it('ignores a duplicate or stale completion, and a stale retry timer', async () => {
    const ctx = context({ nodes: { a: fn(), b: fn() }, edges: [{ from: 'a', to: 'b' }] });
    const start = await startRun(initialState(ctx.definition), ctx, 0);
    const once = await feed(ctx, start.state, ok('a', 1));
    const twice = await feed(ctx, once.state, ok('a', 1), ok('a', 1, 7), {
      kind: 'timer',
      timer: 'retry',
      nodeId: 'a',
      attempt: 2,
    });
    assert.deepEqual(twice.effects, []);
    assert.deepEqual(twice.state, once.state);
  });

  it('times out an attempt, retries it, and ignores the timed-out attempt arriving late', async () => {
    const ctx = context({
      nodes: { a: { ...fn(), timeoutMs: 50, retry: { maxAttempts: 2, backoffMs: 0 } } },
      edges: [],
    });
    const start = await startRun(initialState(ctx.definition), ctx, 0);
    assert.ok(start.effects.some((e) => e.type === 'set_timer' && e.key === 'timeout:a:1' && e.fireAt === 1_050));
    const retried = await feed(ctx, start.state, { kind: 'timer', timer: 'node_timeout', nodeId: 'a', attempt: 1 });
    assert.deepEqual(dispatched(retried.effects), ['a#2']);
    const late = await feed(ctx, retried.state, ok('a', 'late', 1));
    assert.deepEqual(late.effects, []);
    const timedOut = await feed(ctx, retried.state, { kind: 'timer', timer: 'node_timeout', nodeId: 'a', attempt: 2 });
    assert.equal(timedOut.state.status, 'failed');
    assert.equal(timedOut.state.nodes.a?.status, 'timed_out');
  });

  it('cancels: active nodes are cancelled, timers cleared, later completions ignored', async () => {
    const ctx = context({ nodes: { a: fn(), b: fn() }, edges: [] });
    const start = await startRun(initialState(ctx.definition), ctx, 0);
    const cancelled = await feed(ctx, start.state, { kind: 'cancel' });
    assert.equal(cancelled.state.status, 'cancelled');
    assert.equal(cancelled.state.nodes.a?.status, 'cancelled');
    assert.ok(!cancelled.effects.some((e) => e.type === 'clear_all_timers'), 'no node here could have set a timer');
    const timed = context({ nodes: { a: { ...fn(), timeoutMs: 100 } }, edges: [] });
    const timedStart = await startRun(initialState(timed.definition), timed, 0);
    const timedCancel = await feed(timed, timedStart.state, { kind: 'cancel' });
    assert.ok(
      timedCancel.effects.some((e) => e.type === 'clear_all_timers'),
      'a node timeout timer is removed',
    );
    assert.deepEqual(kinds(cancelled.effects), ['run.cancelled']);
    const after = await feed(ctx, cancelled.state, ok('a'));
    assert.deepEqual(after.effects, []);
  });

  it('waits for a human: hitl opens an approval, the run is waiting, a rejection fails it', async () => {
    const ctx = context({ nodes: { review: { type: 'hitl', config: { prompt: 'ok?' } } }, edges: [] });
    const start = await startRun(initialState(ctx.definition), ctx, 0);
    assert.equal(start.state.status, 'waiting');
    assert.ok(start.effects.some((e) => e.type === 'open_approval' && e.nodeId === 'review' && e.prompt === 'ok?'));
    const approved = await feed(ctx, start.state, ok('review', { approved: true }));
    assert.equal(approved.state.status, 'completed');
    const rejected = await feed(ctx, start.state, fail('review', 1, 'rejected: no'));
    assert.equal(rejected.state.status, 'failed');
  });

  it('delays through a durable timer, and a run timeout ends a run', async () => {
    const ctx = context(
      { nodes: { wait: { type: 'delay', config: { ms: 500 } }, next: fn() }, edges: [{ from: 'wait', to: 'next' }] },
      { runTimeoutMs: 10_000 },
    );
    const start = await startRun(initialState(ctx.definition), ctx, 0);
    assert.ok(!start.effects.some((e) => e.type === 'set_timer' && e.kind === 'run_timeout'), 'swept, not timed');
    assert.ok(start.effects.some((e) => e.type === 'set_timer' && e.kind === 'delay' && e.fireAt === 1_500));
    assert.equal(start.state.status, 'waiting');
    const fired = await feed(ctx, start.state, { kind: 'timer', timer: 'delay', nodeId: 'wait', attempt: 1 });
    assert.deepEqual(dispatched(fired.effects), ['next#1']);
    const timedOut = await feed(ctx, fired.state, { kind: 'timer', timer: 'run_timeout' });
    assert.equal(timedOut.state.status, 'timed_out');
    assert.equal(timedOut.state.nodes.next?.status, 'cancelled');
  });

  it('cancels a run before it started, and a late start changes nothing', async () => {
    const ctx = context({ nodes: { a: fn() }, edges: [] });
    const cancelled = await applyInput(initialState(ctx.definition), { kind: 'cancel' }, ctx);
    assert.equal(cancelled.state.status, 'cancelled');
    assert.deepEqual(dispatched(cancelled.effects), []);
    const late = await startRun(cancelled.state, ctx, 0);
    assert.deepEqual(late.effects, []);
  });

  it('fails a run whose task was poisoned', async () => {
    const ctx = context({ nodes: { a: fn() }, edges: [] });
    const start = await startRun(initialState(ctx.definition), ctx, 0);
    const poisoned = await feed(ctx, start.state, {
      kind: 'poison',
      reason: 'task for a went to node.dispatch.function.dlq',
    });
    assert.equal(poisoned.state.status, 'failed');
    assert.match(poisoned.state.error ?? '', /dlq/);
  });
});
