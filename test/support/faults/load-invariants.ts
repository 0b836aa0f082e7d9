import type { Pool } from '#libs/db';
import { runEventAnomalies } from '../runs.js';
import type { AcceptedPatch, MixedLoad } from './mixed-load.js';

/** Whether the platform is done with the load: every accepted run ended and every accepted patch was decided. */
export async function loadDrained(pool: Pool, load: MixedLoad, patched: readonly string[]): Promise<boolean> {
  const { rows } = await pool.query<{ unfinished: number; pending: number }>(
    `SELECT (SELECT count(*)::int FROM runs WHERE id = ANY($1::uuid[]) AND finished_at IS NULL)
          + $3::int - (SELECT count(*)::int FROM runs WHERE id = ANY($1::uuid[])) AS unfinished,
            (SELECT count(*)::int FROM patches WHERE workflow_id = ANY($2::uuid[]) AND status = 'pending') AS pending`,
    [load.runs.map((r) => r.id), patched, load.runs.length],
  );
  return rows[0]?.unfinished === 0 && rows[0].pending === 0;
}

/**
 * What went wrong with the load, one line per problem (DESIGN §3, invariants 1 to 4): an accepted run missing, not
 * completed or with the wrong output, its events not numbered 1..n, a node completed twice; an accepted patch
 * missing, stored twice, not applied, or its effect absent or counted twice in the versions.
 */
export async function loadAnomalies(pool: Pool, load: MixedLoad, patched: readonly string[]): Promise<string[]> {
  const problems: string[] = [...load.rejections];
  const runIds = load.runs.map((r) => r.id);
  if (new Set(runIds).size !== runIds.length) problems.push('one request accepted as two runs');
  const { rows: runs } = await pool.query<{ id: string; status: string; output: unknown }>(
    'SELECT id, status, output FROM runs WHERE id = ANY($1::uuid[])',
    [runIds],
  );
  const byId = new Map(runs.map((r) => [r.id, r]));
  for (const run of load.runs) {
    const row = byId.get(run.id);
    const expected = run.kind === 'chain' ? { c: (run.x + 1) * 2 } : { after: run.x };
    if (!row) problems.push(`run ${run.id} (${run.kind} ${run.x}) lost`);
    else if (row.status !== 'completed' || JSON.stringify(row.output) !== JSON.stringify(expected))
      problems.push(`run ${run.id} (${run.kind} ${run.x}): ${row.status} ${JSON.stringify(row.output)}`);
  }
  problems.push(...(await runEventAnomalies(pool, runIds)));
  const { rows: twice } = await pool.query<{ run_id: string; node_id: string }>(
    `SELECT run_id, node_id FROM run_events WHERE run_id = ANY($1::uuid[]) AND kind = 'node.completed'
      GROUP BY run_id, node_id HAVING count(*) <> 1`,
    [runIds],
  );
  for (const t of twice) problems.push(`run ${t.run_id}: node ${t.node_id} completed more than once`);

  for (const workflow of patched) {
    problems.push(
      ...(await patchAnomalies(
        pool,
        workflow,
        load.patches.filter((p) => p.workflow === workflow),
      )),
    );
  }
  return problems;
}

/** The workflow gets only these patches, so a patch stored beyond them is a retried request stored twice. */
async function patchAnomalies(pool: Pool, workflow: string, accepted: readonly AcceptedPatch[]): Promise<string[]> {
  const problems: string[] = [];
  const { rows: patches } = await pool.query<{ id: string; status: string; reason: string | null }>(
    'SELECT id, status, reason FROM patches WHERE workflow_id = $1',
    [workflow],
  );
  if (patches.length !== accepted.length)
    problems.push(`workflow ${workflow}: ${patches.length} patches stored for ${accepted.length} accepted`);
  const byId = new Map(patches.map((p) => [p.id, p]));
  for (const patch of accepted) {
    const row = byId.get(patch.id);
    if (!row) problems.push(`patch ${patch.id} lost`);
    else if (row.status !== 'applied') problems.push(`patch ${patch.id}: ${row.status} ${row.reason ?? ''}`);
  }
  const { rows } = await pool.query<{ applied: number; definition: { nodes: Record<string, unknown> } | null }>(
    `SELECT (SELECT coalesce(sum(patch_count), 0)::int FROM workflow_versions WHERE workflow_id = $1) AS applied,
            (SELECT definition FROM workflow_versions WHERE workflow_id = $1 ORDER BY version DESC LIMIT 1) AS definition`,
    [workflow],
  );
  const applied = rows[0]?.applied ?? 0;
  const nodes = rows[0]?.definition?.nodes ?? {};
  if (applied !== accepted.length)
    problems.push(`workflow ${workflow}: versions fold ${applied} patches, ${accepted.length} accepted`);
  const missing = accepted.filter((p) => !(p.node in nodes));
  if (missing.length) problems.push(`workflow ${workflow}: latest definition lacks ${missing.length} patched node(s)`);
  return problems;
}
