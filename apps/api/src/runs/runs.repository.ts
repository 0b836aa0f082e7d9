import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '#libs/config';
import { inTransaction, type Pool } from '#libs/db';
import { envelope, type EventCodec } from '#libs/events';
import { insertOutboxRows } from '#libs/outbox';
import { CONFIG, EVENT_CODEC, PG_POOL, ProblemError } from '#libs/platform';
import { isTerminal } from '#libs/runs';
import { claimIdempotencyKey, readIdempotentAnswer, readRun, storeIdempotentAnswer, type RunView } from './runs.sql.js';

export interface StartRunRequest {
  workspaceId: string;
  workflowId: string;
  input: unknown;
  tag: string | null;
  idempotencyKey: string | undefined;
  requestHash: string;
}

export interface RunAccepted {
  runId: string;
  workflowVersion: number;
}

/**
 * Writes what the API accepts about runs, each with its event in the same transaction (DESIGN §3, invariant 1):
 * a run and its run.requested, a cancel's run.control, an approval's node.completed. The coordinator does the rest.
 */
@Injectable()
export class RunsRepository {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(EVENT_CODEC) private readonly codec: EventCodec,
    @Inject(CONFIG) private readonly config: AppConfig,
  ) {}

  read(workspaceId: string, runId: string): Promise<RunView | undefined> {
    return readRun(this.pool, workspaceId, runId);
  }

  /** Pins the latest materialized version; a retried request with the same Idempotency-Key gets the first run. */
  async start(request: StartRunRequest): Promise<RunAccepted> {
    const scope = `runs:${request.workflowId}`;
    const accepted = await inTransaction(this.pool, async (client) => {
      const { idempotencyKey: key } = request;
      if (
        key !== undefined &&
        !(await claimIdempotencyKey(client, request.workspaceId, scope, key, request.requestHash))
      ) {
        return undefined;
      }
      const { rows } = await client.query<{ latest_version: number }>(
        'SELECT latest_version FROM workflows WHERE id = $1 AND workspace_id = $2',
        [request.workflowId, request.workspaceId],
      );
      const workflowVersion = rows[0]?.latest_version;
      if (workflowVersion === undefined) throw new ProblemError('not_found', `no workflow ${request.workflowId}`);
      const runId = randomUUID();
      await client.query(
        `INSERT INTO runs (id, workspace_id, workflow_id, workflow_version, input, tag) VALUES ($1, $2, $3, $4, $5, $6)`,
        [runId, request.workspaceId, request.workflowId, workflowVersion, JSON.stringify(request.input), request.tag],
      );
      const topic = `${this.config.KAFKA_TOPIC_PREFIX}run.requested`;
      await insertOutboxRows(client, [
        {
          topic,
          key: runId,
          eventType: 'run.requested',
          payload: await this.codec.encode('run-requested', topic, {
            ...envelope(1, request.workspaceId),
            type: 'run.requested',
            runId,
            workflowId: request.workflowId,
            workflowVersion,
            inputJson: JSON.stringify(request.input),
            tag: request.tag,
          }),
        },
      ]);
      const answer: RunAccepted = { runId, workflowVersion };
      if (key !== undefined) await storeIdempotentAnswer(client, request.workspaceId, scope, key, 202, answer);
      return answer;
    });
    if (accepted) return accepted;
    const earlier = await readIdempotentAnswer(this.pool, request.workspaceId, scope, request.idempotencyKey as string);
    if (!earlier || earlier.status === 0) {
      throw new ProblemError(
        'dependency_unavailable',
        'the first request with this Idempotency-Key did not finish; retry',
      );
    }
    if (earlier.requestHash !== request.requestHash) {
      throw new ProblemError(
        'idempotency_key_reused',
        `Idempotency-Key "${request.idempotencyKey}" was used for a different run request`,
      );
    }
    return earlier.body as RunAccepted;
  }

  async cancel(workspaceId: string, runId: string, reason: string | null): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      const { rows } = await client.query<{ status: string }>(
        'SELECT status FROM runs WHERE id = $1 AND workspace_id = $2',
        [runId, workspaceId],
      );
      const status = rows[0]?.status;
      if (status === undefined) throw new ProblemError('not_found', `no run ${runId}`);
      if (isTerminal(status as never)) throw new ProblemError('conflict', `run ${runId} has already ended (${status})`);
      const topic = `${this.config.KAFKA_TOPIC_PREFIX}run.control`;
      await insertOutboxRows(client, [
        {
          topic,
          key: runId,
          eventType: 'run.control',
          payload: await this.codec.encode('run-control', topic, {
            ...envelope(0, workspaceId),
            type: 'run.control',
            runId,
            kind: 'cancel',
            timerKind: null,
            nodeId: null,
            attempt: null,
            reason,
          }),
        },
      ]);
    });
  }

  /** Decides an open approval once; the decision reaches the run as the hitl node's completion. */
  async decide(
    workspaceId: string,
    runId: string,
    nodeId: string,
    decision: { approved: boolean; comment: string | null; keyId: string },
  ): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      const { rows } = await client.query<{ attempt: number }>(
        `UPDATE approvals SET status = $4, comment = $5, decided_at = now()
          WHERE run_id = $1 AND node_id = $2 AND workspace_id = $3 AND status = 'pending'
          RETURNING attempt`,
        [runId, nodeId, workspaceId, decision.approved ? 'approved' : 'rejected', decision.comment],
      );
      const attempt = rows[0]?.attempt;
      if (attempt === undefined) throw await this.whyNoApproval(workspaceId, runId, nodeId);
      const topic = `${this.config.KAFKA_TOPIC_PREFIX}node.completed`;
      const output = { approved: decision.approved, comment: decision.comment, decidedBy: decision.keyId };
      await insertOutboxRows(client, [
        {
          topic,
          key: runId,
          eventType: 'node.completed',
          payload: await this.codec.encode('node-completed', topic, {
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
          }),
        },
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
