import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createPool } from '#libs/db';
import { ADMIN_KEY, startRoles } from '#test/support/app.js';
import { useTestContext } from '#test/harness/test-context.js';
import { apiRole } from '../api.role.js';

const ctx = useTestContext('api-bootstrap-key');

const OWN_KEY = 'an-admin-secret-of-our-own-0123456789';

async function workspaces(): Promise<number> {
  const pool = createPool(ctx.databaseUrl, { name: 'bootstrap-check' });
  try {
    return (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM workspaces')).rows[0]?.n ?? -1;
  } finally {
    await pool.end();
  }
}

// One database for the file: the steps run in order, as a deployment's life would.
describe('the local bootstrap admin key is for loopback only', () => {
  it('refuses to start on a non-loopback HOST with the default key, naming the variables', async () => {
    await assert.rejects(
      startRoles(ctx, [apiRole], { ...ctx.config, HOST: '0.0.0.0', BOOTSTRAP_ADMIN_KEY: ADMIN_KEY }),
      /BOOTSTRAP_ADMIN_KEY is the published local default, and HOST \(0\.0\.0\.0\) is not a loopback address/,
    );
    assert.equal(await workspaces(), 0);
  });

  it('bootstraps nothing when BOOTSTRAP_ADMIN_KEY is empty', async () => {
    const api = await startRoles(ctx, [apiRole], { ...ctx.config, HOST: '0.0.0.0', BOOTSTRAP_ADMIN_KEY: '' });
    assert.equal(await workspaces(), 0);
    await api.app.close();
  });

  it('refuses the default key on every request off loopback, even when the database holds it', async () => {
    // Bootstrapped on loopback with the default key, then moved to a public address with a key of its own.
    const local = await startRoles(ctx, [apiRole], { ...ctx.config, BOOTSTRAP_ADMIN_KEY: ADMIN_KEY });
    assert.equal((await local.request('GET', '/v1/api-keys')).status, 200);
    const other = await local.request<{ key: string }>('POST', '/v1/api-keys', { body: { permission: 'admin' } });
    await local.app.close();
    const exposed = await startRoles(ctx, [apiRole], { ...ctx.config, HOST: '0.0.0.0', BOOTSTRAP_ADMIN_KEY: OWN_KEY });
    const refused = await exposed.request<{ detail: string }>('GET', '/v1/api-keys', { key: ADMIN_KEY });
    assert.equal(refused.status, 401);
    assert.match(refused.body.detail, /local default admin key is refused off a loopback address/);
    assert.equal((await exposed.request('GET', '/v1/api-keys', { key: other.body.key })).status, 200);
  });
});
