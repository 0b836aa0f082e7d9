import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '#libs/config';
import { GroupCommit, inTransaction, ReadRouting, type Pool } from '#libs/db';
import { envelope, runControlEvent, type EventCodec } from '#libs/events';
import { insertOutboxRows, OutboxWaker, SKIP_OUTBOX_TRIGGER } from '#libs/outbox';
import type { BlobBackend } from '#libs/cas';
import { BLOB_BACKEND, CONFIG, EVENT_CODEC, PG_POOL, ProblemError } from '#libs/platform';
import { withRequestTrace } from '#libs/tracing';
import { isTerminal } from '#libs/runs';
import { EagerOutbox } from '../eager-outbox.js';
import { writeRunStarts, type RunAccepted, type StartRunRequest } from './run-start-batch.sql.js';
import { listRuns, readRun, readRunEvents, workflowExists, type RunFilter, type RunView } from './runs.sql.js';
import { storeFailure, tooManyWaiting } from '../store-failure.js';
import { mayDecide, type Decider } from './approvers.js';

export type { RunAccepted, StartRunRequest };

/**
 * Writes what the API accepts about runs, each with its event in the same transaction (DESIGN §3, invariant 1):
 * a run and its run.requested, a cancel's run.control, an approval's node.completed. The coordinator does the rest.
 */
@Injectable()
export class RunsRepository {
  private readonly starts: GroupCommit<StartRunRequest, RunAccepted>;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(EVENT_CODEC) private readonly codec: EventCodec,
    @Inject(CONFIG) private readonly config: AppConfig,
    @Inject(BLOB_BACKEND) blobs: BlobBackend,
    eager: EagerOutbox,
    private readonly reads: ReadRouting,
  ) {
    const waker = new OutboxWaker(pool);
    this.starts = new GroupCommit(pool, {
      maxBatch: config.PATCH_WRITE_MAX_BATCH,
      maxConcurrent: 3,
      begin: SKIP_OUTBOX_TRIGGER,
      ...(eager.enabled ? {} : { afterCommit: () => waker.wake() }),
      maxQueued: config.GROUP_COMMIT_MAX_QUEUED,
      overloaded: tooManyWaiting('run starts'),
      unavailable: storeFailure('run'),
      write: (client, requests, afterCommit) =>
        writeRunStarts(client, codec, requests, {
          eager: eager.rows(afterCommit),
          inlineMaxBytes: config.EVENT_INLINE_MAX_BYTES,
          blobs,
        }),
    });
  }

  // Reads go to the read replica when there is one (`token`: the caller's last write's, for read-your-writes); a run
  // the replica does not have yet is looked up on the primary, so a run read right after its 202 is never missing.
  read(workspaceId: string, runId: string, token?: string): Promise<RunView | undefined> {
    return this.reads.read(token, (db) => readRun(db, workspaceId, runId), Boolean);
  }

  list(workspaceId: string, filter: RunFilter, token?: string): ReturnType<typeof listRuns> {
    return this.reads.read(token, (db) => listRuns(db, workspaceId, filter));
  }

  events(workspaceId: string, runId: string, token?: string): ReturnType<typeof readRunEvents> {
    return this.reads.read(token, (db) => readRunEvents(db, workspaceId, runId), Boolean);
  }

  workflowExists(workspaceId: string, workflowId: string, token?: string): Promise<boolean> {
    return this.reads.read(token, (db) => workflowExists(db, workspaceId, workflowId), Boolean);
  }

  /** The token a client sends back on reads to see the write that just committed (none without a replica). */
  consistencyToken(): Promise<string | undefined> {
    return this.reads.writeToken();
  }

  /**
   * Pins the latest materialized version; a retried request with the same Idempotency-Key gets the first run. Starts
   * arriving together share one transaction (group commit).
   */
  start(request: StartRunRequest): Promise<RunAccepted> {
    // The batch is written in another request's async context: each request brings its own trace context along.
    return this.starts.submit(withRequestTrace(request));
  }

  async cancel(workspaceId: string, runId: string, reason: string | null): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      const { rows } = await client.query<{ status: string }>(
        'SELECT status FROM runs WHERE id = $1 AND workspace_id = $2',
        [runId, workspaceId],
      );
      const status = rows[0]?.status;
      if (status === undefined) throw new ProblemError('not_found', `no run ${runId}`);
      if (isTerminal(status)) throw new ProblemError('conflict', `run ${runId} has already ended (${status})`);
      await insertOutboxRows(client, [
        await this.codec.outboxRow(
          'run.control',
          runId,
          runControlEvent({ workspaceId, runId, kind: 'cancel', reason }),
        ),
      ]);
    });
  }

  /** Decides an open approval once; the decision reaches the run as the hitl node's completion. */
  async decide(
    workspaceId: string,
    runId: string,
    nodeId: string,
    decision: { approved: boolean; comment: string | null; decider: Decider },
  ): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      // The approvers of the node in the version the run pinned (a later version cannot change who decides).
      const node = await client.query<{ approvers: unknown }>(
        `SELECT v.definition #> ARRAY['nodes', $3, 'config', 'approvers'] AS approvers
           FROM runs r JOIN workflow_versions v ON v.workflow_id = r.workflow_id AND v.version = r.workflow_version
          WHERE r.id = $1 AND r.workspace_id = $2`,
        [runId, workspaceId, nodeId],
      );
      if (node.rows[0] && !mayDecide(node.rows[0].approvers, decision.decider)) {
        throw new ProblemError('forbidden', `node ${nodeId} may be approved or rejected only by its approvers`);
      }
      const { rows } = await client.query<{ attempt: number }>(
        `UPDATE approvals SET status = $4, comment = $5, decided_at = now()
          WHERE run_id = $1 AND node_id = $2 AND workspace_id = $3 AND status = 'pending'
          RETURNING attempt`,
        [runId, nodeId, workspaceId, decision.approved ? 'approved' : 'rejected', decision.comment],
      );
      const attempt = rows[0]?.attempt;
      if (attempt === undefined) throw await this.whyNoApproval(workspaceId, runId, nodeId);
      const output = { approved: decision.approved, comment: decision.comment, decidedBy: decision.decider.keyId };
      await insertOutboxRows(client, [
        await this.codec.outboxRow('node.completed', runId, {
          ...envelope(0, workspaceId),
          type: 'node.completed',
          runId,
          nodeId,
          attempt,
          status: decision.approved ? 'succeeded' : 'failed',
          outputJson: decision.approved ? JSON.stringify(output) : null,
          outputRef: null,
          error: decision.approved ? null : `rejected${decision.comment ? `: ${decision.comment}` : ''}`,
          nodeType: 'hitl',
          startedAt: null,
          cached: null,
        }),
      ]);
    });
  }

  private async whyNoApproval(workspaceId: string, runId: string, nodeId: string): Promise<ProblemError> {
    const { rows } = await this.pool.query<{ status: string | null; run: string | null }>(
      `SELECT r.id AS run, (SELECT status FROM approvals a WHERE a.run_id = r.id AND a.node_id = $3
                              ORDER BY attempt DESC LIMIT 1) AS status
         FROM runs r WHERE r.id = $1 AND r.workspace_id = $2`,
      [runId, workspaceId, nodeId],
    );
    const row = rows[0];
    if (!row) return new ProblemError('not_found', `no run ${runId}`);
    if (row.status === null)
      return new ProblemError('conflict', `node ${nodeId} of run ${runId} is not waiting for approval`);
    return new ProblemError('conflict', `the approval of node ${nodeId} was already ${row.status}`);
  }
}
