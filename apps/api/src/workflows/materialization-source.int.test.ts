import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import canonicalize from 'canonicalize';
import { applyPatch, type Operation } from 'rfc6902';
import { materializerRole } from '#apps/materializer/src/materializer.role.js';
import { foldPatches, type WorkflowDefinition } from '#libs/workflows';
import { createTopics, eventually, SAMPLE_DEFINITION, startRoles, type TestApp } from '#test/support/app.js';
import { useTestContext } from '#test/harness/test-context.js';
import { apiRole } from '../api.role.js';

const ctx = useTestContext('materialization-source');

interface Source {
  latestVersion: number;
  snapshot: { version: number; definition: WorkflowDefinition; appliedThroughSeq: number };
  patches: { patchId: string; seq: number; ops: never[]; status: string; reason?: string }[];
  truncated: boolean;
  foldOptions: { maxBytes: number; maxDepth: number; allowedHosts: string[] };
}

/** What a client does with a source: fold every patch after the snapshot, with the server's options. */
const fold = (source: Source) =>
  foldPatches(
    source.snapshot,
    source.patches.map((p) => ({ id: p.patchId, seq: p.seq, ops: p.ops })),
    source.foldOptions,
  );

describe('GET /v1/workflows/{id}/materialization: a client folds what the materializers fold', () => {
  let api: TestApp;
  let workflowId: string;

  before(async () => {
    await createTopics(ctx);
    api = await startRoles(ctx, [apiRole]);
    const created = await api.request<{ id: string }>('POST', '/v1/workflows', {
      body: { name: 'folded', definition: SAMPLE_DEFINITION },
    });
    workflowId = created.body.id;
  });

  it('gives pending patches whose fold equals, byte for byte (JCS), the version the materializer makes later', async () => {
    // A mix the materializer applies and rejects: nodes added, an edge to nowhere, a cycle, a forbidden host.
    const batches = [
      [{ op: 'add', path: '/nodes/c', value: { type: 'function', config: { expression: 'nodes.b * 2' } } }],
      [{ op: 'add', path: '/edges/-', value: { from: 'b', to: 'c' } }],
      [{ op: 'add', path: '/edges/-', value: { from: 'b', to: 'nowhere' } }],
      [{ op: 'add', path: '/edges/-', value: { from: 'c', to: 'a' } }],
      [{ op: 'replace', path: '/nodes/a/config/expression', value: '$.input.y' }],
      [
        {
          op: 'add',
          path: '/nodes/h',
          value: { type: 'http_request', config: { method: 'GET', url: 'http://169.254.169.254/x' } },
        },
      ],
      [{ op: 'remove', path: '/nodes/zz' }],
      ...Array.from({ length: 20 }, (_, i) => [
        { op: 'add', path: `/nodes/n${i}`, value: { type: 'delay', config: { ms: i + 1 } } },
      ]),
    ];
    for (const ops of batches) {
      const reply = await api.request('POST', `/v1/workflows/${workflowId}/patches`, { body: { ops } });
      assert.equal(reply.status, 202, JSON.stringify(reply.body));
    }
    const pending = await api.request<Source>('GET', `/v1/workflows/${workflowId}/materialization`);
    assert.equal(pending.status, 200);
    assert.equal(pending.body.snapshot.version, 1);
    assert.deepEqual(
      pending.body.patches.map((p) => [p.seq, p.status]),
      batches.map((_, i) => [i + 1, 'pending']),
    );
    const clientSide = fold(pending.body);
    assert.equal(clientSide.decisions.filter((d) => d.status === 'rejected').length, 4, 'the fold rejects some');

    // Now the server materializes the same patches.
    await startRoles(ctx, [materializerRole]);
    const decided = await eventually(async () => {
      const reply = await api.request<Source>('GET', `/v1/workflows/${workflowId}/materialization?version=1`);
      return reply.body.patches.every((p) => p.status !== 'pending') ? reply.body : undefined;
    }, 'every patch decided');
    const latest = await api.request<{ definition: unknown; appliedThroughSeq: number }>(
      'GET',
      `/v1/workflows/${workflowId}`,
    );
    assert.equal(canonicalize(clientSide.definition), canonicalize(latest.body.definition));
    assert.equal(clientSide.appliedThroughSeq, latest.body.appliedThroughSeq);
    // The same decisions, and the same words for the rejections.
    assert.deepEqual(
      clientSide.decisions.map((d) => [d.seq, d.status, d.status === 'rejected' ? d.reason : undefined]),
      decided.patches.map((p) => [p.seq, p.status, p.reason]),
    );
    // A source from the latest snapshot has nothing left to fold.
    const fresh = await api.request<Source>('GET', `/v1/workflows/${workflowId}/materialization`);
    assert.equal(fresh.body.snapshot.version, fresh.body.latestVersion);
    assert.deepEqual(fresh.body.patches, []);
  });

  it('answers 304 to its ETag until a patch arrives or is decided', async () => {
    const url = `/v1/workflows/${workflowId}/materialization?version=1`;
    const first = await api.request('GET', url);
    const etag = String(first.headers.etag);
    assert.match(etag, /^"[\w-]+"$/);
    const again = await api.request('GET', url, { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
    const patched = await api.request('POST', `/v1/workflows/${workflowId}/patches`, {
      body: { ops: [{ op: 'add', path: '/nodes/late', value: { type: 'delay', config: { ms: 1 } } }] },
    });
    assert.equal(patched.status, 202);
    const changed = await api.request('GET', url, { headers: { 'if-none-match': etag } });
    assert.equal(changed.status, 200, 'a new patch changes the answer');
    assert.notEqual(changed.headers.etag, etag);
    const decided = await eventually(async () => {
      const reply = await api.request<Source>('GET', url);
      return reply.body.patches.at(-1)?.status === 'applied' ? String(reply.headers.etag) : undefined;
    }, 'the late patch applied');
    assert.notEqual(decided, changed.headers.etag, 'its decision changes it again');
  });

  it('diffs each version against the one before: its ops turn the previous definition into it', async () => {
    const latest = await api.request<{ version: number }>('GET', `/v1/workflows/${workflowId}`);
    assert.ok(latest.body.version >= 2);
    for (let version = 2; version <= latest.body.version; version++) {
      const diff = await api.request<{ previous: number; ops: Operation[]; appliedPatches: { seq: number }[] }>(
        'GET',
        `/v1/workflows/${workflowId}/versions/${version}/diff`,
      );
      assert.equal(diff.status, 200);
      assert.equal(diff.body.previous, version - 1);
      assert.ok(diff.body.ops.length > 0);
      const before = await api.request<{ definition: object }>(
        'GET',
        `/v1/workflows/${workflowId}/versions/${version - 1}`,
      );
      const after = await api.request<{ definition: object }>('GET', `/v1/workflows/${workflowId}/versions/${version}`);
      const patched = structuredClone(before.body.definition);
      assert.deepEqual(
        applyPatch(patched, diff.body.ops),
        diff.body.ops.map(() => null),
      );
      assert.equal(canonicalize(patched), canonicalize(after.body.definition));
      const source = await api.request<Source>('GET', `/v1/workflows/${workflowId}/materialization?version=1`);
      const applied = source.body.patches
        .filter((p) => (p as { version?: number }).version === version)
        .map((p) => p.seq);
      assert.deepEqual(
        diff.body.appliedPatches.map((p) => p.seq),
        applied,
      );
    }
    const first = await api.request<{ previous: null; ops: unknown[] }>(
      'GET',
      `/v1/workflows/${workflowId}/versions/1/diff`,
    );
    assert.deepEqual([first.body.previous, first.body.ops], [null, []]);
    assert.equal((await api.request('GET', `/v1/workflows/${workflowId}/versions/999/diff`)).status, 404);
  });

  it('answers 404 for an unknown workflow, 400 for a bad version', async () => {
    assert.equal((await api.request('GET', `/v1/workflows/${crypto.randomUUID()}/materialization`)).status, 404);
    assert.equal((await api.request('GET', `/v1/workflows/${workflowId}/materialization?version=0`)).status, 400);
  });
});
