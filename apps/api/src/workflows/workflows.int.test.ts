import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createPool, type Pool } from '#libs/db';
import { SAMPLE_DEFINITION, startRoles, type TestApp } from '#test/support/app.js';
import { useTestContext } from '#test/harness/test-context.js';
import { apiRole } from '../api.role.js';

const ctx = useTestContext('api-workflows');

const addNode = (id: string) => ({
  ops: [{ op: 'add', path: `/nodes/${id}`, value: { type: 'function', config: { expression: '1' } } }],
});

describe('workflows and patches over HTTP', () => {
  let api: TestApp;
  let pool: Pool;
  let workflowId: string;
  const counts = async () =>
    (
      await pool.query<{ workflows: number; patches: number; outbox: number; keys: number }>(
        `SELECT (SELECT count(*)::int FROM workflows) AS workflows, (SELECT count(*)::int FROM patches) AS patches,
                (SELECT count(*)::int FROM outbox) AS outbox, (SELECT count(*)::int FROM idempotency_keys) AS keys`,
      )
    ).rows[0];

  before(async () => {
    // The API alone, without topics: its outbox rows stay where it wrote them (no eager publishing) for the test to see.
    // Errors only: the database error behind the 503 test is logged at warn by design.
    api = await startRoles(ctx, [apiRole], { ...ctx.config, OUTBOX_EAGER_GRACE_MS: 0, LOG_LEVEL: 'error' });
    pool = createPool(ctx.databaseUrl, { name: 'workflows-test' });
    ctx.defer(() => pool.end());
    const created = await api.request<{ id: string; version: number }>('POST', '/v1/workflows', {
      body: { name: 'sample', definition: SAMPLE_DEFINITION },
    });
    assert.equal(created.status, 201);
    assert.equal(created.body.version, 1);
    workflowId = created.body.id;
  });

  it('creates version 1 with its workflow.materialized outbox row', async () => {
    const latest = await api.request<{ version: number; definition: unknown; appliedThroughSeq: number }>(
      'GET',
      `/v1/workflows/${workflowId}`,
    );
    assert.equal(latest.status, 200);
    assert.deepEqual(latest.body.definition, SAMPLE_DEFINITION);
    assert.equal(latest.body.appliedThroughSeq, 0);
    const outbox = await pool.query('SELECT event_type FROM outbox WHERE message_key = $1', [workflowId]);
    assert.deepEqual(outbox.rows, [{ event_type: 'workflow.materialized' }]);
  });

  it('202 means durable: the patch and its outbox row are committed together before the answer (invariant 1)', async () => {
    const reply = await api.request<{ patchId: string; seq: number; status: string }>(
      'POST',
      `/v1/workflows/${workflowId}/patches`,
      {
        body: addNode('c'),
      },
    );
    assert.equal(reply.status, 202);
    assert.equal(reply.body.status, 'pending');
    assert.equal(reply.headers.location, `/v1/workflows/${workflowId}/patches/${reply.body.patchId}`);
    // A different connection sees both rows at once: they were committed, in one transaction, before the 202.
    const { rows } = await pool.query<{ seq: string; outbox: number }>(
      "SELECT p.seq, (SELECT count(*)::int FROM outbox WHERE event_type = 'patch.created' AND message_key = $2) AS outbox FROM patches p WHERE p.id = $1",
      [reply.body.patchId, workflowId],
    );
    assert.deepEqual(rows[0], { seq: String(reply.body.seq), outbox: 1 });
    const status = await api.request<{ status: string; seq: number }>('GET', reply.headers.location);
    assert.equal(status.body.status, 'pending');
  });

  it('when the transaction cannot commit, answers 503 and leaves neither patch nor event behind', async () => {
    const before = await counts();
    // The outbox insert fails, after the patch row was written in the same transaction.
    await pool.query('ALTER TABLE outbox RENAME TO outbox_gone');
    try {
      const reply = await api.request<{ type: string; detail: string }>('POST', `/v1/workflows/${workflowId}/patches`, {
        body: addNode('z'),
      });
      assert.equal(reply.status, 503);
      assert.equal(reply.body.type, 'urn:orchestrator:problem:dependency-unavailable');
      // The database's own words (table names, hosts, users) go to the log, not to the client.
      assert.doesNotMatch(JSON.stringify(reply.body), /outbox|relation|exist/i);
    } finally {
      await pool.query('ALTER TABLE outbox_gone RENAME TO outbox');
    }
    assert.deepEqual(await counts(), before);
    const next = await api.request<{ seq: number }>('POST', `/v1/workflows/${workflowId}/patches`, {
      body: addNode('d'),
    });
    assert.equal(next.status, 202);
    const { rows } = await pool.query<{ max: string }>('SELECT max(seq) FROM patches WHERE workflow_id = $1', [
      workflowId,
    ]);
    assert.equal(Number(rows[0]?.max), next.body.seq, 'no sequence number was burnt by the failed attempt');
  });

  it('assigns consecutive sequence numbers to concurrent patches of one workflow', async () => {
    const replies = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        api.request<{ seq: number }>('POST', `/v1/workflows/${workflowId}/patches`, { body: addNode(`n${i}`) }),
      ),
    );
    assert.ok(replies.every((r) => r.status === 202));
    const seqs = replies.map((r) => r.body.seq).sort((a, b) => a - b);
    const first = seqs[0] as number;
    assert.deepEqual(
      seqs,
      Array.from({ length: 40 }, (_, i) => first + i),
    );
    // Outbox rows of the workflow are in sequence order (the relay publishes in row order).
    const { rows } = await pool.query<{ seq: string }>(
      "SELECT p.seq FROM outbox o JOIN patches p ON p.workflow_id = o.message_key::uuid AND o.event_type = 'patch.created' WHERE o.message_key = $1 ORDER BY o.id",
      [workflowId],
    );
    assert.equal(rows.length > 0, true);
  });

  it('returns the first answer to a retried POST with the same Idempotency-Key, even when the retries race', async () => {
    const before = await counts();
    const send = () =>
      api.request<{ patchId: string; seq: number }>('POST', `/v1/workflows/${workflowId}/patches`, {
        body: addNode('idem'),
        headers: { 'idempotency-key': 'retry-me-1' },
      });
    const replies = await Promise.all([send(), send(), send(), send(), send()]);
    assert.ok(replies.every((r) => r.status === 202));
    assert.equal(new Set(replies.map((r) => r.body.patchId)).size, 1);
    const later = await send();
    assert.equal(later.body.patchId, replies[0]?.body.patchId);
    const after = await counts();
    assert.equal(after?.patches, (before?.patches ?? 0) + 1);
    assert.equal(after?.outbox, (before?.outbox ?? 0) + 1);

    const other = await api.request<{ type: string }>('POST', `/v1/workflows/${workflowId}/patches`, {
      body: addNode('different'),
      headers: { 'idempotency-key': 'retry-me-1' },
    });
    assert.equal(other.status, 422);
    assert.equal(other.body.type, 'urn:orchestrator:problem:idempotency-key-reused');
  });

  it('refuses bad input with problem+json and writes nothing (invariant 8)', async () => {
    const before = await counts();
    const url = `/v1/workflows/${workflowId}/patches`;
    const cases: { name: string; reply: () => ReturnType<TestApp['request']>; status: number }[] = [
      { name: 'malformed JSON', reply: () => api.request('POST', url, { rawBody: '{"ops": [' }), status: 400 },
      { name: 'not an object', reply: () => api.request('POST', url, { body: [1, 2] }), status: 400 },
      { name: 'empty ops', reply: () => api.request('POST', url, { body: { ops: [] } }), status: 422 },
      {
        name: 'unknown op',
        reply: () => api.request('POST', url, { body: { ops: [{ op: 'merge', path: '/x' }] } }),
        status: 422,
      },
      {
        name: 'add without value',
        reply: () => api.request('POST', url, { body: { ops: [{ op: 'add', path: '/x' }] } }),
        status: 422,
      },
      {
        name: 'bad pointer',
        reply: () => api.request('POST', url, { body: { ops: [{ op: 'remove', path: 'nodes/a' }] } }),
        status: 422,
      },
      {
        name: 'oversized body',
        reply: () =>
          api.request('POST', url, {
            rawBody: JSON.stringify({ ops: [{ op: 'add', path: '/x', value: 'y'.repeat(300_000) }] }),
          }),
        status: 413,
      },
      {
        name: 'wrong media type',
        reply: () => api.request('POST', url, { rawBody: 'ops', headers: { 'content-type': 'text/plain' } }),
        status: 415,
      },
      {
        name: 'bad Idempotency-Key',
        reply: () => api.request('POST', url, { body: addNode('q'), headers: { 'idempotency-key': 'has space' } }),
        status: 400,
      },
      {
        name: 'unknown workflow',
        reply: () =>
          api.request('POST', '/v1/workflows/00000000-0000-4000-8000-000000000000/patches', { body: addNode('q') }),
        status: 404,
      },
      {
        name: 'not a uuid',
        reply: () => api.request('POST', '/v1/workflows/nope/patches', { body: addNode('q') }),
        status: 404,
      },
      {
        name: 'unknown node type',
        reply: () =>
          api.request('POST', '/v1/workflows', {
            body: { name: 'x', definition: { nodes: { a: { type: 'teleport', config: {} } }, edges: [] } },
          }),
        status: 422,
      },
      {
        name: 'http node aimed at the metadata address',
        reply: () =>
          api.request('POST', '/v1/workflows', {
            body: {
              name: 'x',
              definition: {
                nodes: { a: { type: 'http_request', config: { method: 'GET', url: 'http://169.254.169.254/latest' } } },
                edges: [],
              },
            },
          }),
        status: 422,
      },
      {
        name: 'cycle',
        reply: () =>
          api.request('POST', '/v1/workflows', {
            body: {
              name: 'x',
              definition: {
                ...SAMPLE_DEFINITION,
                edges: [
                  { from: 'a', to: 'b' },
                  { from: 'b', to: 'a' },
                ],
              },
            },
          }),
        status: 422,
      },
    ];
    for (const c of cases) {
      const reply = await c.reply();
      assert.equal(reply.status, c.status, `${c.name}: ${JSON.stringify(reply.body)}`);
      assert.match(String(reply.headers['content-type']), /^application\/problem\+json/, c.name);
      const body = reply.body as { status: number; title: string; detail: string };
      assert.equal(body.status, c.status, c.name);
      assert.ok(body.title && body.detail, c.name);
    }
    assert.deepEqual(await counts(), before);
  });

  it('lists the history page by page', async () => {
    const first = await api.request<{ patches: { seq: number }[]; next: string | null }>(
      'GET',
      `/v1/workflows/${workflowId}/patches?limit=10`,
    );
    assert.equal(first.body.patches.length, 10);
    assert.deepEqual(
      first.body.patches.map((p) => p.seq),
      Array.from({ length: 10 }, (_, i) => i + 1),
    );
    const second = await api.request<{ patches: { seq: number }[] }>('GET', first.body.next as string);
    assert.equal(second.body.patches[0]?.seq, 11);
  });
});
