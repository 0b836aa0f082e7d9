import { randomUUID } from 'node:crypto';
import { inTransaction, type Pool } from '#libs/db';
import type { EventCodec } from '#libs/events';
import type { Producer } from '#libs/kafka';

export interface TestRun {
  readonly runId: string;
  readonly workflowId: string;
  readonly workspaceId: string;
}

/**
 * Plays the coordinator and the outbox relay for tests without them: runs and run events written to Postgres, and the
 * same events published to `run.events`, together or each alone.
 */
export class TestEvents {
  constructor(
    private readonly pool: Pool,
    private readonly producer: Producer,
    private readonly codec: EventCodec,
  ) {}

  async createRun(workspaceId: string): Promise<TestRun> {
    const workflow = await this.pool.query<{ id: string }>(
      "INSERT INTO workflows (workspace_id, name) VALUES ($1, 'w') RETURNING id",
      [workspaceId],
    );
    const workflowId = (workflow.rows[0] as { id: string }).id;
    const runId = randomUUID();
    await this.pool.query(
      `INSERT INTO runs (id, workspace_id, workflow_id, workflow_version, input, status)
       VALUES ($1, $2, $3, 1, '{}', 'running')`,
      [runId, workspaceId, workflowId],
    );
    return { runId, workflowId, workspaceId };
  }

  /** Publishes a run event to Kafka as the outbox relay would, without touching Postgres. */
  async publish(run: TestRun, seq: number, kind: string, status = 'running', nodeId: string | null = null) {
    const message = await this.codec.message('run.events', run.runId, {
      eventId: randomUUID(),
      type: 'run.event',
      seq,
      occurredAt: Date.now(),
      workspaceId: run.workspaceId,
      runId: run.runId,
      workflowId: run.workflowId,
      kind,
      status,
      nodeId,
      detailJson: JSON.stringify({ seq }),
    });
    await this.producer.send({ topic: this.codec.names.of('run.events'), messages: [message] });
  }

  /**
   * Commits a run event as the coordinator does (the run_events row and the run's status in one transaction), then
   * publishes it, unless `publish: false` (an event Kafka never brought to the fanout).
   */
  async commit(
    run: TestRun,
    seq: number,
    kind: string,
    options: { status?: string; runStatus?: string; nodeId?: string; publish?: boolean } = {},
  ): Promise<void> {
    const status = options.status ?? 'running';
    await inTransaction(this.pool, async (client) => {
      await client.query(
        `INSERT INTO run_events (run_id, seq, workflow_id, workspace_id, kind, status, node_id, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [run.runId, seq, run.workflowId, run.workspaceId, kind, status, options.nodeId ?? null, { seq }],
      );
      await client.query('UPDATE runs SET status = $2, event_seq = $3 WHERE id = $1', [
        run.runId,
        options.runStatus ?? 'running',
        seq,
      ]);
    });
    if (options.publish !== false) await this.publish(run, seq, kind, status, options.nodeId ?? null);
  }
}
