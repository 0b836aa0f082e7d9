import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { ContentStore } from '#libs/cas';
import { createPool, type Pool } from '#libs/db';
import { useTestContext } from '#test/harness/test-context.js';
import { retentionJobs, runDueJobs, type RetentionSettings } from './maintenance-jobs.js';

const ctx = useTestContext('retention');
const DAY = 86_400_000;
const SETTINGS: RetentionSettings = {
  intervalMs: 3_600_000,
  idempotencyKeyTtlMs: 7 * DAY,
  casGraceMs: 7 * DAY,
  finishedRunRetentionMs: 30 * DAY,
};

describe('retention jobs against Postgres', () => {
  let pool: Pool;
  let workspace: string;
  let workflow: string;

  before(async () => {
    pool = createPool(ctx.databaseUrl, { name: 'retention', max: 4 });
    ctx.defer(() => pool.end());
    workspace = (await pool.query<{ id: string }>(`INSERT INTO workspaces (name) VALUES ('r') RETURNING id`)).rows[0]!
      .id;
    workflow = (
      await pool.query<{ id: string }>(`INSERT INTO workflows (workspace_id, name) VALUES ($1, 'w') RETURNING id`, [
        workspace,
      ])
    ).rows[0]!.id;
  });

  /** Makes every job due again, as if its interval had passed. */
  const makeDue = () => pool.query(`UPDATE maintenance_jobs SET next_run_at = now()`);
  const count = async (sql: string, params: unknown[] = []) =>
    (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM (${sql}) q`, params)).rows[0]!.n;

  async function insertRun(finishedDaysAgo: number | null, nodes: Record<string, unknown> = {}): Promise<string> {
    const id = randomUUID();
    await pool.query(
      `INSERT INTO runs (id, workspace_id, workflow_id, workflow_version, status, input, nodes, finished_at)
       VALUES ($1, $2, $3, 1, $4, '{}', $5, CASE WHEN $6::int IS NULL THEN NULL ELSE now() - make_interval(days => $6::int) END)`,
      [id, workspace, workflow, finishedDaysAgo === null ? 'running' : 'completed', nodes, finishedDaysAgo],
    );
    await pool.query(
      `INSERT INTO run_events (run_id, seq, workflow_id, workspace_id, kind, status) VALUES ($1, 1, $2, $3, 'run', 'x')`,
      [id, workflow, workspace],
    );
    return id;
  }

  it('expires idempotency keys past their time to live and keeps the rest', async () => {
    for (const [key, days] of [
      ['old', 8],
      ['new', 1],
    ] as const) {
      await pool.query(
        `INSERT INTO idempotency_keys (workspace_id, scope, key, request_hash, response_status, response_body, created_at)
         VALUES ($1, 'runs', $2, 'h', 202, '{}', now() - make_interval(days => $3))`,
        [workspace, key, days],
      );
    }
    await makeDue();
    const outcomes = await runDueJobs(pool, retentionJobs(SETTINGS), SETTINGS.intervalMs);
    assert.deepEqual(
      outcomes.find((o) => o.name === 'expire-idempotency-keys'),
      { name: 'expire-idempotency-keys', deleted: 1 },
    );
    const keys = await pool.query<{ key: string }>('SELECT key FROM idempotency_keys');
    assert.deepEqual(
      keys.rows.map((r) => r.key),
      ['new'],
    );
  });

  it('prunes runs finished before the retention period, with their events; keeps the others', async () => {
    const old = await insertRun(31);
    const recent = await insertRun(2);
    const unfinished = await insertRun(null);
    await makeDue();
    await runDueJobs(pool, retentionJobs(SETTINGS), SETTINGS.intervalMs);
    const left = (await pool.query<{ id: string }>('SELECT id FROM runs')).rows.map((r) => r.id);
    assert.ok(!left.includes(old));
    assert.ok(left.includes(recent) && left.includes(unfinished));
    assert.equal(await count('SELECT 1 FROM run_events WHERE run_id = $1', [old]), 0);
  });

  it('keeps finished runs forever when run retention is off (the default)', async () => {
    const ancient = await insertRun(400);
    await makeDue();
    await runDueJobs(pool, retentionJobs({ ...SETTINGS, finishedRunRetentionMs: 0 }), SETTINGS.intervalMs);
    assert.equal(await count('SELECT 1 FROM runs WHERE id = $1', [ancient]), 1);
  });

  it('collects blobs no run refers to once past the grace period; a blob stored again is fresh', async () => {
    const store = new ContentStore(pool);
    const [referenced, orphan, young, storedAgain] = await Promise.all(
      ['referenced', 'orphan', 'young', 'stored-again'].map((what) =>
        store.put(workspace, Buffer.from(what), 'text/plain'),
      ),
    );
    const age = (ref: string, days: number) =>
      pool.query(`UPDATE cas_blobs SET last_put_at = now() - make_interval(days => $2) WHERE sha256 = $1`, [
        ref.slice('sha256:'.length),
        days,
      ]);
    await age(referenced!, 30);
    await age(orphan!, 30);
    await age(young!, 1);
    await age(storedAgain!, 30);
    await insertRun(null, { big: { status: 'succeeded', attempts: 1, outputRef: referenced } });
    // A worker stores the same content again for a new run the projector has not written yet.
    await store.put(workspace, Buffer.from('stored-again'), 'text/plain');

    await makeDue();
    const outcomes = await runDueJobs(pool, retentionJobs(SETTINGS), SETTINGS.intervalMs);
    assert.equal(outcomes.find((o) => o.name === 'collect-content-blobs')?.deleted, 1);
    assert.equal(await store.get(workspace, orphan!), undefined);
    for (const kept of [referenced, young, storedAgain]) assert.ok(await store.get(workspace, kept!), `${kept} kept`);
  });

  it("keeps what a run's latest changelog record references, however long ago it was stored", async () => {
    const store = new ContentStore(pool);
    const [input, state, orphan] = await Promise.all(
      ['record input', 'record state', 'record orphan'].map((what) =>
        store.put(workspace, Buffer.from(what), 'text/plain'),
      ),
    );
    await pool.query(`UPDATE cas_blobs SET last_put_at = now() - interval '30 days'`);
    const waiting = await insertRun(null);
    await pool.query('UPDATE runs SET content_refs = $2 WHERE id = $1', [waiting, [input, state]]);
    await makeDue();
    await runDueJobs(pool, retentionJobs(SETTINGS), SETTINGS.intervalMs);
    assert.ok(await store.get(workspace, input!), 'input kept');
    assert.ok(await store.get(workspace, state!), 'state kept');
    assert.equal(await store.get(workspace, orphan!), undefined);
  });

  it('keeps every blob of a workspace while a run whose references are unknown may still be restored', async () => {
    const store = new ContentStore(pool);
    const orphan = await store.put(workspace, Buffer.from('kept while unknown'), 'text/plain');
    await pool.query(`UPDATE cas_blobs SET last_put_at = now() - interval '30 days'`);
    // Projected before runs recorded their references (migration 0012).
    const unknown = await insertRun(null);
    await pool.query('UPDATE runs SET content_refs = NULL WHERE id = $1', [unknown]);
    await makeDue();
    await runDueJobs(pool, retentionJobs(SETTINGS), SETTINGS.intervalMs);
    assert.ok(await store.get(workspace, orphan), 'kept while the run may be restored');

    await pool.query(`UPDATE runs SET status = 'completed', finished_at = now() - interval '2 days' WHERE id = $1`, [
      unknown,
    ]);
    await makeDue();
    await runDueJobs(pool, retentionJobs(SETTINGS), SETTINGS.intervalMs);
    assert.equal(await store.get(workspace, orphan), undefined, 'collected once its record is gone');
  });

  it('runs each due job once across processes, then not again before its interval', async () => {
    await makeDue();
    const other = createPool(ctx.databaseUrl, { name: 'retention-other', max: 4 });
    ctx.defer(() => other.end());
    const jobs = retentionJobs(SETTINGS);
    const [a, b] = await Promise.all([
      runDueJobs(pool, jobs, SETTINGS.intervalMs),
      runDueJobs(other, jobs, SETTINGS.intervalMs),
    ]);
    assert.deepEqual([...a, ...b].map((o) => o.name).sort(), jobs.map((j) => j.name).sort());
    assert.deepEqual(await runDueJobs(pool, jobs, SETTINGS.intervalMs), []);
    const recorded = await pool.query<{ name: string; last_error: string | null }>(
      'SELECT name, last_error FROM maintenance_jobs WHERE last_finished_at IS NOT NULL ORDER BY name',
    );
    assert.deepEqual(
      recorded.rows,
      jobs.map((j) => ({ name: j.name, last_error: null })).sort((x, y) => x.name.localeCompare(y.name)),
    );
  });

  it('turns every job off with a zero interval', () => {
    assert.deepEqual(retentionJobs({ ...SETTINGS, intervalMs: 0 }), []);
  });
});
