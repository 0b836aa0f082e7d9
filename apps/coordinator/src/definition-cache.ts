import type { Pool } from '#libs/db';
import type { WorkflowDefinition } from '#libs/workflows';

/** Workflow versions never change once written, so each is read from Postgres once per process. */
export class DefinitionCache {
  private readonly versions = new Map<string, WorkflowDefinition>();

  constructor(
    private readonly pool: Pool,
    private readonly capacity = 10_000,
  ) {}

  async load(wanted: readonly { workflowId: string; version: number }[]): Promise<void> {
    const missing = wanted.filter((w) => !this.versions.has(key(w.workflowId, w.version)));
    if (!missing.length) return;
    const { rows } = await this.pool.query<{ workflow_id: string; version: number; definition: WorkflowDefinition }>(
      `SELECT v.workflow_id, v.version, v.definition
         FROM workflow_versions v JOIN unnest($1::uuid[], $2::int[]) AS w(id, version)
           ON v.workflow_id = w.id AND v.version = w.version`,
      [missing.map((m) => m.workflowId), missing.map((m) => m.version)],
    );
    if (this.versions.size + rows.length > this.capacity) this.versions.clear();
    for (const row of rows) this.versions.set(key(row.workflow_id, row.version), row.definition);
  }

  get(workflowId: string, version: number): WorkflowDefinition | undefined {
    return this.versions.get(key(workflowId, version));
  }
}

const key = (workflowId: string, version: number) => `${workflowId}@${version}`;
