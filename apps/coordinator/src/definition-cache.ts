import type { Pool } from '#libs/db';
import type { WorkflowDefinition } from '#libs/workflows';

/** The definitions one batch needs, whatever the cache evicts meanwhile for other batches. */
export class BatchDefinitions {
  constructor(private readonly byKey: ReadonlyMap<string, WorkflowDefinition>) {}

  get(workflowId: string, version: number): WorkflowDefinition | undefined {
    return this.byKey.get(key(workflowId, version));
  }

  get size(): number {
    return this.byKey.size;
  }
}

/**
 * Workflow versions never change once written, so each is read from Postgres once per process while it is in use.
 * The cache is bounded by the definitions' size (their JSON text), not their count: one tenant's few large
 * definitions must not take a coordinator's memory. The least recently used go first; what a batch asked for is
 * handed to it whole (BatchDefinitions), so a batch is served even when it alone needs more than the budget.
 */
export class DefinitionCache {
  private readonly versions = new Map<string, { definition: WorkflowDefinition; bytes: number }>();
  private total = 0;

  constructor(
    private readonly pool: Pool,
    private readonly maxBytes: number,
  ) {}

  async load(wanted: readonly { workflowId: string; version: number }[]): Promise<BatchDefinitions> {
    const batch = new Map<string, WorkflowDefinition>();
    const missing: { workflowId: string; version: number }[] = [];
    for (const w of wanted) {
      const k = key(w.workflowId, w.version);
      const entry = this.versions.get(k);
      if (!entry) missing.push(w);
      else {
        // Map order is use order: move it to the end.
        this.versions.delete(k);
        this.versions.set(k, entry);
        batch.set(k, entry.definition);
      }
    }
    if (missing.length) {
      const { rows } = await this.pool.query<{
        workflow_id: string;
        version: number;
        definition: WorkflowDefinition;
        bytes: number;
      }>(
        `SELECT v.workflow_id, v.version, v.definition, octet_length(v.definition::text) AS bytes
           FROM workflow_versions v JOIN unnest($1::uuid[], $2::int[]) AS w(id, version)
             ON v.workflow_id = w.id AND v.version = w.version`,
        [missing.map((m) => m.workflowId), missing.map((m) => m.version)],
      );
      for (const row of rows) {
        const k = key(row.workflow_id, row.version);
        batch.set(k, row.definition);
        if (!this.versions.has(k)) this.total += row.bytes;
        this.versions.set(k, { definition: row.definition, bytes: row.bytes });
      }
    }
    for (const [k, entry] of this.versions) {
      if (this.total <= this.maxBytes) break;
      this.versions.delete(k);
      this.total -= entry.bytes;
    }
    return new BatchDefinitions(batch);
  }

  has(workflowId: string, version: number): boolean {
    return this.versions.has(key(workflowId, version));
  }

  /** The size of the cached definitions' JSON text. */
  get bytes(): number {
    return this.total;
  }
}

const key = (workflowId: string, version: number) => `${workflowId}@${version}`;
