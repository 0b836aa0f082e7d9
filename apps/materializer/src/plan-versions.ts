import { foldPatches, type DefinitionOptions } from '#libs/workflows';
import type { Decision, HeadUpdate, NewVersion, StoredPatch, WorkflowHead } from './materialize.sql.js';

export interface MaterializationPlan {
  readonly versions: NewVersion[];
  readonly decisions: Decision[];
  readonly heads: HeadUpdate[];
  /** Per new version: which patches it applied and which were rejected on the way (for workflow.materialized). */
  readonly events: {
    head: WorkflowHead;
    version: NewVersion;
    applied: string[];
    rejected: { patchId: string; seq: number; reason: string }[];
  }[];
}

/**
 * Pure: folds each workflow's pending patches, in chunks of at most `maxPerVersion`, into new versions. A chunk whose
 * patches were all rejected makes no version (nothing changed) but still moves `appliedThroughSeq` past them.
 */
export function planVersions(
  heads: readonly WorkflowHead[],
  pending: readonly StoredPatch[],
  maxPerVersion: number,
  options: DefinitionOptions,
): MaterializationPlan {
  const plan: MaterializationPlan = { versions: [], decisions: [], heads: [], events: [] };
  const byWorkflow = Map.groupBy(pending, (p) => p.workflowId);
  for (const head of heads) {
    const patches = byWorkflow.get(head.id) ?? [];
    if (!patches.length) continue;
    let definition = head.definition;
    let version = head.latestVersion;
    let appliedThrough = head.appliedThroughSeq;
    for (let start = 0; start < patches.length; start += maxPerVersion) {
      const chunk = patches.slice(start, start + maxPerVersion);
      const folded = foldPatches({ definition, appliedThroughSeq: appliedThrough }, chunk, options);
      appliedThrough = folded.appliedThroughSeq;
      const applied = folded.decisions.filter((d) => d.status === 'applied').map((d) => d.patchId);
      const rejected = folded.decisions.flatMap((d) =>
        d.status === 'rejected' ? [{ patchId: d.patchId, seq: d.seq, reason: d.reason }] : [],
      );
      if (applied.length) {
        version += 1;
        definition = folded.definition;
        const newVersion: NewVersion = {
          workflowId: head.id,
          version,
          definition,
          appliedThroughSeq: appliedThrough,
          patchCount: applied.length,
        };
        plan.versions.push(newVersion);
        plan.events.push({ head, version: newVersion, applied, rejected });
      }
      for (const d of folded.decisions) {
        plan.decisions.push(
          d.status === 'applied'
            ? { patchId: d.patchId, status: 'applied', version, reason: null }
            : { patchId: d.patchId, status: 'rejected', version: null, reason: d.reason },
        );
      }
    }
    plan.heads.push({ workflowId: head.id, latestVersion: version, appliedThroughSeq: appliedThrough });
  }
  return plan;
}
