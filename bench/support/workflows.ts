import type { ApiClient } from './api-client.js';
import { mapLimit } from './api-client.js';

/** A small valid definition: a function node feeding another (the same one the tests use). */
export const BENCH_DEFINITION = {
  nodes: {
    a: { type: 'function', config: { expression: '$.input.x' } },
    b: { type: 'function', config: { expression: 'nodes.a + 1' } },
  },
  edges: [{ from: 'a', to: 'b' }],
};

/** The run benchmark's workflow: a 3-node chain of function nodes, a → b → c, c's output (x + 1) * 2. */
export const CHAIN_DEFINITION = {
  nodes: {
    a: { type: 'function', config: { expression: 'input.x' } },
    b: { type: 'function', config: { expression: 'nodes.a + 1' } },
    c: { type: 'function', config: { expression: 'nodes.b * 2' } },
  },
  edges: [
    { from: 'a', to: 'b' },
    { from: 'b', to: 'c' },
  ],
};

export async function createWorkflows(
  client: ApiClient,
  count: number,
  name: string,
  definition: unknown = BENCH_DEFINITION,
): Promise<string[]> {
  const indexes = Array.from({ length: count }, (_, i) => i);
  return mapLimit(indexes, 16, async (i) => {
    const created = await client.postExpecting<{ id: string }>(201, '/v1/workflows', {
      name: `${name}-${i}`,
      definition,
    });
    return created.id;
  });
}

/** A patch that keeps the definition's size constant however many are applied: rewrites node a's expression. */
export function rewritePatch(n: number): { ops: unknown[] } {
  return { ops: [{ op: 'replace', path: '/nodes/a/config/expression', value: `$.input.x + ${n}` }] };
}

/** A patch that grows the definition, as editing does: adds node p<n> fed by node b. */
export function growPatch(n: number): { ops: unknown[] } {
  return {
    ops: [
      { op: 'add', path: `/nodes/p${n}`, value: { type: 'function', config: { expression: `nodes.b + ${n}` } } },
      { op: 'add', path: '/edges/-', value: { from: 'b', to: `p${n}` } },
    ],
  };
}
