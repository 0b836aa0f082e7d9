import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { apiRole } from '#apps/api/src/api.role.js';
import { materializerRole } from '#apps/materializer/src/materializer.role.js';
import { outboxRelayRole } from '#apps/outbox-relay/src/outbox-relay.role.js';
import { createPool, type Pool } from '#libs/db';
import { createTopics, eventually, SAMPLE_DEFINITION, startRoles, type TestApp } from '#test/support/app.js';
import { useTestContext } from '#test/harness/test-context.js';

const ctx = useTestContext('unsupported-regex');

type PatchStatus = { status: 'pending' | 'applied' | 'rejected'; version?: number; reason?: string };

/**
 * Expressions run their regexes on a linear-time engine, which has no backreferences or lookarounds. A definition
 * using one would fail only when a run reaches it; it is refused when submitted instead, directly (422) or as the
 * result of a patch (rejected with the reason).
 */
describe('regexes the linear-time engine refuses are refused with the definition: API -> outbox -> materializer', () => {
  let api: TestApp;
  let pool: Pool;
  const workflowCount = async () =>
    (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM workflows')).rows[0]?.n;

  before(async () => {
    await createTopics(ctx);
    api = await startRoles(ctx, [apiRole, outboxRelayRole, materializerRole]);
    pool = createPool(ctx.databaseUrl, { name: 'unsupported-regex-test' });
    ctx.defer(() => pool.end());
  });

  it('answers 422 naming each expression and its regex, and writes nothing', async () => {
    const before = await workflowCount();
    const response = await api.request<{ type: string; errors: string[] }>('POST', '/v1/workflows', {
      body: {
        name: 'backtracking',
        definition: {
          nodes: {
            shape: { type: 'function', config: { expression: '$match(input.s, /(a)\\1/)' } },
            write: { type: 'agent', config: { model: 'm', prompt: 'Hi {{ $replace(input.name, /x(?!y)/, "") }}' } },
          },
          edges: [{ from: 'shape', to: 'write', when: '$contains(input.s, /(?<=a)b/i)' }],
        },
      },
    });
    assert.equal(response.status, 422, JSON.stringify(response.body));
    assert.equal(response.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.equal(response.body.type, 'urn:orchestrator:problem:validation-failed');
    assert.equal(response.body.errors.length, 3, JSON.stringify(response.body.errors));
    const [shape, write, edge] = response.body.errors;
    const refuses = 'not supported: the linear-time regex engine refuses';
    assert.ok(shape?.startsWith(`nodes.shape.config.expression: ${refuses} /(a)\\1/ (at position 23): `), shape);
    assert.ok(
      write?.startsWith(
        `nodes.write.config.prompt: "{{ $replace(input.name, /x(?!y)/, "") }}" is ${refuses} /x(?!y)/ `,
      ),
      write,
    );
    assert.ok(edge?.startsWith(`edges[0].when: ${refuses} /(?<=a)b/i (at position 29): `), edge);
    assert.equal(await workflowCount(), before);
  });

  it('refuses a body of costly regexes by their size alone, without compiling them', async () => {
    // Each compiles to some 100 000 atoms, seconds of work on the API's event loop: past the definition's budget.
    const nodes = Object.fromEntries(
      Array.from({ length: 20 }, (_, i) => [
        `n${i}`,
        { type: 'function', config: { expression: `$match(input.s, /${'a{0,1000}'.repeat(100)}${i}/)` } },
      ]),
    );
    const started = performance.now();
    const response = await api.request<{ errors: string[] }>('POST', '/v1/workflows', {
      body: { name: 'costly', definition: { nodes, edges: [] } },
    });
    const ms = performance.now() - started;
    assert.equal(response.status, 422, JSON.stringify(response.body));
    assert.equal(response.body.errors.length, 20);
    assert.match(response.body.errors[0]!, /^nodes\.n0\.config\.expression: .* larger than 5000 atoms in all/);
    assert.ok(ms < 5_000, `answered after ${Math.round(ms)} ms`);
  });

  it('rejects a patch whose result has such a regex, with the reason; the next patch still applies', async () => {
    const created = await api.request<{ id: string }>('POST', '/v1/workflows', {
      body: { name: 'patched', definition: SAMPLE_DEFINITION },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id;
    const post = async (ops: unknown[]) => {
      const reply = await api.request<{ patchId: string }>('POST', `/v1/workflows/${id}/patches`, { body: { ops } });
      assert.equal(reply.status, 202, JSON.stringify(reply.body));
      return reply.body.patchId;
    };
    const decided = (patchId: string) =>
      eventually(async () => {
        const reply = await api.request<PatchStatus>('GET', `/v1/workflows/${id}/patches/${patchId}`);
        return reply.body.status === 'pending' ? undefined : reply.body;
      }, `patch ${patchId} decided`);

    const nested = await post([
      {
        op: 'replace',
        path: '/nodes/b/config/expression',
        value: '($twice := function($s) { $replace($s, /(\\d)\\1/, "") }; $twice(nodes.a))',
      },
    ]);
    // An ordinary regex, flags included, is not mistaken for one.
    const good = await post([{ op: 'add', path: '/edges/0/when', value: '$contains(input.tag, /^a+b$/i)' }]);

    const nestedStatus = await decided(nested);
    assert.equal(nestedStatus.status, 'rejected');
    assert.match(
      nestedStatus.reason ?? '',
      /^invalid definition: nodes\.b\.config\.expression: not supported: .* refuses \/\(\\d\)\\1\/ /,
    );
    const goodStatus = await decided(good);
    assert.equal(goodStatus.status, 'applied', goodStatus.reason);

    const lookahead = await post([{ op: 'replace', path: '/edges/0/when', value: 'input.tag ~> $match(/^(?=x)/)' }]);
    const lookaheadStatus = await decided(lookahead);
    assert.equal(lookaheadStatus.status, 'rejected');
    assert.match(
      lookaheadStatus.reason ?? '',
      /^invalid definition: edges\[0\]\.when: not supported: .* refuses \/\^\(\?=x\)\/ /,
    );

    const latest = await api.request<{ version: number; definition: typeof SAMPLE_DEFINITION }>(
      'GET',
      `/v1/workflows/${id}`,
    );
    assert.equal(latest.body.definition.nodes.b.config.expression, SAMPLE_DEFINITION.nodes.b.config.expression);
    assert.deepEqual(latest.body.definition.edges, [{ from: 'a', to: 'b', when: '$contains(input.tag, /^a+b$/i)' }]);
  });
});
