import type { Pool } from '#libs/db';
import type { WorkflowMaterialized } from '#libs/events';
import type { StreamEvent, StreamHistory, StreamSubject } from './stream-event.js';

export const workflowKey = (workflowId: string): string => `workflow:${workflowId}`;

const EVENT_NAME = 'workflow.materialized';

interface VersionFields {
  workflowId: string;
  version: number;
  appliedThroughSeq: number;
  appliedPatchIds: readonly string[];
  rejected: readonly { patchId: string; seq: number; reason: string }[];
  occurredAt: Date;
}

function toStreamEvent(v: VersionFields): StreamEvent {
  return {
    id: v.version,
    name: EVENT_NAME,
    data: {
      workflowId: v.workflowId,
      kind: EVENT_NAME,
      version: v.version,
      appliedThroughSeq: v.appliedThroughSeq,
      appliedPatchIds: v.appliedPatchIds,
      rejected: v.rejected,
      occurredAt: v.occurredAt.toISOString(),
    },
    // A workflow can always get another version: its stream stays open until the client leaves.
    terminal: false,
  };
}

export function workflowEventFromKafka(event: WorkflowMaterialized): StreamEvent {
  return toStreamEvent({
    workflowId: event.workflowId,
    version: event.version,
    appliedThroughSeq: event.appliedThroughSeq,
    appliedPatchIds: event.appliedPatchIds,
    rejected: event.rejected.map((r) => ({ patchId: r.patchId, seq: r.seq, reason: r.reason })),
    occurredAt: new Date(event.occurredAt),
  });
}

/** Reads a workflow's versions (one workflow.materialized event each) back from `workflow_versions` and `patches`. */
export class WorkflowEventsRepository {
  constructor(private readonly pool: Pool) {}

  async subject(workspaceId: string, workflowId: string): Promise<StreamSubject | undefined> {
    const { rows } = await this.pool.query<{ workspace_id: string }>(
      'SELECT workspace_id FROM workflows WHERE id = $1',
      [workflowId],
    );
    if (rows[0]?.workspace_id !== workspaceId) return undefined;
    return {
      kind: 'workflow',
      key: workflowKey(workflowId),
      history: this.history(workflowId),
      finishedThrough: undefined,
    };
  }

  /**
   * A version's patches are those with seq in (previous version's applied_through_seq, its own]: the applied ones
   * carry its number, the rejected ones none, so the range finds both through the (workflow_id, seq) index. Rejections
   * in a chunk that made no version of its own show up with the next version.
   */
  private history(workflowId: string): StreamHistory {
    return {
      after: async (after, limit) => {
        const { rows } = await this.pool.query<{
          version: number;
          applied_through_seq: string;
          created_at: Date;
          applied: string[];
          rejected: { patchId: string; seq: number; reason: string }[];
        }>(
          `SELECT v.version, v.applied_through_seq, v.created_at,
                  coalesce((SELECT array_agg(p.id::text ORDER BY p.seq) FROM patches p
                             WHERE p.workflow_id = $1 AND p.seq > v.previous AND p.seq <= v.applied_through_seq
                               AND p.status = 'applied'), '{}') AS applied,
                  coalesce((SELECT json_agg(json_build_object('patchId', p.id, 'seq', p.seq, 'reason', p.reason)
                                            ORDER BY p.seq) FROM patches p
                             WHERE p.workflow_id = $1 AND p.seq > v.previous AND p.seq <= v.applied_through_seq
                               AND p.status = 'rejected'), '[]') AS rejected
             FROM (SELECT version, applied_through_seq, created_at,
                          lag(applied_through_seq, 1, 0::bigint) OVER (ORDER BY version) AS previous
                     FROM workflow_versions WHERE workflow_id = $1 AND version >= $2::bigint) v
            WHERE v.version > $2::bigint ORDER BY v.version LIMIT $3`,
          [workflowId, after, limit],
        );
        return rows.map((r) =>
          toStreamEvent({
            workflowId,
            version: r.version,
            appliedThroughSeq: Number(r.applied_through_seq),
            appliedPatchIds: r.applied,
            rejected: r.rejected,
            occurredAt: r.created_at,
          }),
        );
      },
      finishedThrough: () => Promise.resolve(undefined),
    };
  }
}
