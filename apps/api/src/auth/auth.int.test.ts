import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { createPool } from '#libs/db';
import { ADMIN_KEY, SAMPLE_DEFINITION, startRoles, type TestApp } from '#test/support/app.js';
import { useTestContext } from '#test/harness/test-context.js';
import { apiRole } from '../api.role.js';

const ctx = useTestContext('api-auth');

describe('API keys and tenancy (invariant 7)', () => {
  let api: TestApp;
  let workflowId: string;
  let readKey: string;
  let foreignKey: string;

  before(async () => {
    // The API alone, without topics: its outbox rows stay where it wrote them (no eager publishing) for the test to see.
    api = await startRoles(ctx, [apiRole], { ...ctx.config, OUTBOX_EAGER_GRACE_MS: 0 });
    const created = await api.request<{ id: string }>('POST', '/v1/workflows', {
      body: { name: 'w', definition: SAMPLE_DEFINITION },
    });
    assert.equal(created.status, 201);
    workflowId = created.body.id;
    readKey = (await api.request<{ key: string }>('POST', '/v1/api-keys', { body: { permission: 'read' } })).body.key;
    // A second workspace with its own admin key.
    const pool = createPool(ctx.databaseUrl, { name: 'auth-test' });
    ctx.defer(() => pool.end());
    const ws = await pool.query<{ id: string }>("INSERT INTO workspaces (name) VALUES ('other') RETURNING id");
    const { ApiKeysRepository } = await import('#libs/auth');
    foreignKey = (await new ApiKeysRepository(pool).create((ws.rows[0] as { id: string }).id, 'admin')).key;
  });

  it('bootstraps workspace "default" with the configured admin key', async () => {
    const reply = await api.request('GET', `/v1/workflows/${workflowId}`, { key: ADMIN_KEY });
    assert.equal(reply.status, 200);
  });

  it('refuses a missing key and an unknown key with 401 problem+json', async () => {
    for (const key of [null, 'ok_not-a-real-key']) {
      const reply = await api.request<{ status: number; type: string }>('GET', `/v1/workflows/${workflowId}`, { key });
      assert.equal(reply.status, 401);
      assert.match(String(reply.headers['content-type']), /^application\/problem\+json/);
      assert.equal(reply.body.type, 'urn:orchestrator:problem:unauthenticated');
    }
  });

  it('lets a read key read but not post patches or create workflows', async () => {
    assert.equal((await api.request('GET', `/v1/workflows/${workflowId}`, { key: readKey })).status, 200);
    const patch = await api.request<{ detail: string }>('POST', `/v1/workflows/${workflowId}/patches`, {
      key: readKey,
      body: { ops: [{ op: 'add', path: '/nodes/c', value: { type: 'function', config: { expression: '1' } } }] },
    });
    assert.equal(patch.status, 403);
    assert.match(patch.body.detail, /needs a write key; the key used is read/);
    const create = await api.request('POST', '/v1/workflows', {
      key: readKey,
      body: { name: 'x', definition: SAMPLE_DEFINITION },
    });
    assert.equal(create.status, 403);
    assert.equal(
      (await api.request('POST', '/v1/api-keys', { key: readKey, body: { permission: 'read' } })).status,
      403,
    );
  });

  it("answers 404 to another workspace's key, for reads and for patches, and writes nothing", async () => {
    assert.equal((await api.request('GET', `/v1/workflows/${workflowId}`, { key: foreignKey })).status, 404);
    assert.equal((await api.request('GET', `/v1/workflows/${workflowId}/versions/1`, { key: foreignKey })).status, 404);
    assert.equal((await api.request('GET', `/v1/workflows/${workflowId}/patches`, { key: foreignKey })).status, 404);
    const patch = await api.request('POST', `/v1/workflows/${workflowId}/patches`, {
      key: foreignKey,
      body: { ops: [{ op: 'remove', path: '/nodes/b' }] },
      headers: { 'idempotency-key': 'foreign-1' },
    });
    assert.equal(patch.status, 404);
    const pool = createPool(ctx.databaseUrl, { name: 'auth-check' });
    try {
      const { rows } = await pool.query<{ patches: number; keys: number }>(
        'SELECT (SELECT count(*)::int FROM patches) AS patches, (SELECT count(*)::int FROM idempotency_keys) AS keys',
      );
      assert.deepEqual(rows[0], { patches: 0, keys: 0 });
    } finally {
      await pool.end();
    }
  });

  it('creates keys (admin only), shows each once and stores only its digest', async () => {
    const created = await api.request<{ id: string; key: string; permission: string }>('POST', '/v1/api-keys', {
      body: { permission: 'write' },
    });
    assert.equal(created.status, 201);
    assert.equal(created.body.permission, 'write');
    assert.match(created.body.key, /^ok_[A-Za-z0-9_-]{43}$/);
    const pool = createPool(ctx.databaseUrl, { name: 'auth-digest' });
    try {
      const { rows } = await pool.query<{ key_hash: Buffer; key_prefix: string }>(
        'SELECT key_hash, key_prefix FROM api_keys WHERE id = $1',
        [created.body.id],
      );
      assert.equal(rows[0]?.key_hash.length, 32);
      assert.ok(!rows[0]?.key_hash.toString('utf8').includes(created.body.key));
      assert.equal(rows[0]?.key_prefix.length, 10);
    } finally {
      await pool.end();
    }
    const bad = await api.request<{ status: number }>('POST', '/v1/api-keys', { body: { permission: 'root' } });
    assert.equal(bad.status, 422);
  });

  it('lists the workspace keys (admin only) by id, permission and prefix, never a key or digest', async () => {
    const created = await api.request<{ id: string; key: string }>('POST', '/v1/api-keys', {
      body: { permission: 'read' },
    });
    const listed = await api.request<{ keys: Record<string, unknown>[] }>('GET', '/v1/api-keys');
    assert.equal(listed.status, 200);
    const mine = listed.body.keys.find((k) => k.id === created.body.id);
    assert.deepEqual(Object.keys(mine ?? {}).sort(), ['createdAt', 'id', 'label', 'permission', 'prefix', 'revokedAt']);
    assert.equal(mine?.prefix, created.body.key.slice(0, 10));
    assert.equal(mine?.revokedAt, null);
    assert.ok(!JSON.stringify(listed.body).includes(created.body.key));
    // Only this workspace's keys, and only for admins.
    const foreign = await api.request<{ keys: { id: string }[] }>('GET', '/v1/api-keys', { key: foreignKey });
    assert.ok(!foreign.body.keys.some((k) => k.id === created.body.id));
    assert.equal((await api.request('GET', '/v1/api-keys', { key: readKey })).status, 403);
  });

  it('revokes a key (admin only, own workspace): it stops working at once and shows as revoked', async () => {
    const created = await api.request<{ id: string; key: string }>('POST', '/v1/api-keys', {
      body: { permission: 'write' },
    });
    const url = `/v1/workflows/${workflowId}`;
    assert.equal((await api.request('GET', url, { key: created.body.key })).status, 200); // now cached
    assert.equal((await api.request('DELETE', `/v1/api-keys/${created.body.id}`, { key: readKey })).status, 403);
    assert.equal((await api.request('DELETE', `/v1/api-keys/${created.body.id}`, { key: foreignKey })).status, 404);
    assert.equal((await api.request('GET', url, { key: created.body.key })).status, 200);
    const revoked = await api.request('DELETE', `/v1/api-keys/${created.body.id}`);
    assert.equal(revoked.status, 204);
    assert.equal((await api.request('GET', url, { key: created.body.key })).status, 401);
    assert.equal((await api.request('DELETE', `/v1/api-keys/${created.body.id}`)).status, 204);
    const listed = await api.request<{ keys: { id: string; revokedAt: string | null }[] }>('GET', '/v1/api-keys');
    assert.ok(listed.body.keys.find((k) => k.id === created.body.id)?.revokedAt);
    assert.equal((await api.request('DELETE', '/v1/api-keys/not-a-uuid')).status, 404);
  });

  it('does not let a key revoke itself', async () => {
    const admin = await api.request<{ id: string; key: string }>('POST', '/v1/api-keys', {
      body: { permission: 'admin' },
    });
    const self = await api.request('DELETE', `/v1/api-keys/${admin.body.id}`, { key: admin.body.key });
    assert.equal(self.status, 409);
  });
});
