import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { graph } from './test-fixtures.js';
import { validateDefinition } from './validate-definition.js';

const errorsOf = (ids: string[], edges: string[]): string[] => {
  const result = validateDefinition(graph(ids, edges));
  return result.ok ? [] : result.errors;
};

describe('graph checks', () => {
  it('accepts chains, fan-out, fan-in and diamonds', () => {
    assert.deepEqual(errorsOf(['a', 'b', 'c', 'd'], ['a->b', 'a->c', 'b->d', 'c->d']), []);
    assert.deepEqual(errorsOf(['a', 'b', 'c'], ['a->c', 'b->c']), []);
    assert.deepEqual(errorsOf(['lonely'], []), []);
  });

  it('names the edge and the missing node of a dangling edge', () => {
    assert.deepEqual(errorsOf(['a', 'b'], ['a->b', 'b->x', 'y->a']), [
      'edges[1].to: no node "x"',
      'edges[2].from: no node "y"',
    ]);
  });

  it('refuses a self-loop', () => {
    assert.deepEqual(errorsOf(['a', 'b'], ['a->b', 'b->b']), ['edges[1]: self-loop on "b"']);
  });

  it('refuses a duplicate edge, even with a different condition', () => {
    const definition = graph(['a', 'b'], ['a->b', 'a->b']);
    definition.edges[1]!.when = 'true';
    const result = validateDefinition(definition);
    assert.deepEqual(result.ok ? [] : result.errors, ['edges[1]: duplicate of edges[0] (a -> b)']);
  });

  it('refuses a two-node cycle, naming it', () => {
    assert.deepEqual(errorsOf(['start', 'a', 'b'], ['start->a', 'a->b', 'b->a']), ['edges: cycle through a -> b -> a']);
  });

  it('refuses a three-node cycle, naming it from its first-declared node', () => {
    assert.deepEqual(errorsOf(['s', 'x', 'y', 'z'], ['s->y', 'z->x', 'y->z', 'x->y']), [
      'edges: cycle through x -> y -> z -> x',
    ]);
  });

  it('reports one cycle per tangle, and each separate tangle', () => {
    const errors = errorsOf(
      ['s', 'a', 'b', 'c', 'p', 'q'],
      ['s->a', 'a->b', 'b->a', 'b->c', 'c->a', 's->p', 'p->q', 'q->p'],
    );
    assert.deepEqual(errors, ['edges: cycle through a -> b -> a', 'edges: cycle through p -> q -> p']);
  });

  it('requires an entry node', () => {
    assert.deepEqual(errorsOf(['a', 'b'], ['a->b', 'b->a']), [
      'edges: cycle through a -> b -> a',
      'nodes: no entry node (every node has an incoming edge, so nothing could start)',
    ]);
    assert.deepEqual(errorsOf(['a'], ['a->a']), [
      'edges[0]: self-loop on "a"',
      'nodes: no entry node (every node has an incoming edge, so nothing could start)',
    ]);
  });

  it('checks the largest allowed graph quickly', () => {
    const ids = Array.from({ length: 500 }, (_, i) => `n${i}`);
    // Every node to its next four (1990 edges), and ten longer jumps: 2000 edges, one entry node (n0).
    const edges = [
      ...ids.flatMap((_, i) => [1, 2, 3, 4].filter((d) => i + d < 500).map((d) => `n${i}->n${i + d}`)),
      ...Array.from({ length: 10 }, (_, i) => `n${i}->n${i + 5}`),
    ];
    assert.equal(edges.length, 2000);
    const started = performance.now();
    assert.deepEqual(errorsOf(ids, edges), []);
    const withBackEdge = errorsOf(ids, [...edges.slice(1), 'n499->n1']);
    assert.equal(withBackEdge.length, 1, withBackEdge.join('\n'));
    assert.match(withBackEdge[0] ?? '', /^edges: cycle through n1 -> (n\d+ -> )+n499 -> n1$/);
    assert.ok(performance.now() - started < 1000, 'took over a second');
  });
});
