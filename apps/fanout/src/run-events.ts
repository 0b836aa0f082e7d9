import type DataLoader from 'dataloader';
import { preparedStatement, type Pool } from '#libs/db';
import type { RunEvent } from '#libs/events';
import { isTerminal, isTerminalRunEvent } from '#libs/runs';
import { coalescingLoader } from './coalescing-loader.js';
import type { StreamEvent, StreamHistory, StreamSubject } from './stream-event.js';

export const runKey = (runId: string): string => `run:${runId}`;

interface RunEventFields {
  runId: string;
  workflowId: string;
  seq: number;
  kind: string;
  status: string;
  nodeId: string | null;
  detail: unknown;
  occurredAt: Date;
}

/** The one shape of a run event on the wire, whether it was replayed from Postgres or arrived live from Kafka. */
function toStreamEvent(e: RunEventFields): StreamEvent {
  return {
    id: e.seq,
    name: e.kind,
    data: {
      runId: e.runId,
      workflowId: e.workflowId,
      seq: e.seq,
      kind: e.kind,
      status: e.status,
      nodeId: e.nodeId,
      detail: e.detail,
      occurredAt: e.occurredAt.toISOString(),
    },
    terminal: isTerminalRunEvent(e.kind),
  };
}

function parseDetail(json: string | null): unknown {
  if (json === null) return null;
  try {
    return JSON.parse(json) as unknown;
  } catch {
    // A producer bug should not cost the client the event: hand the text over as it is.
    return json;
  }
}

export function runEventFromKafka(event: RunEvent): StreamEvent {
  return toStreamEvent({
    runId: event.runId,
    workflowId: event.workflowId,
    seq: event.seq,
    kind: event.kind,
    status: event.status,
    nodeId: event.nodeId,
    detail: parseDetail(event.detailJson),
    occurredAt: new Date(event.occurredAt),
  });
}

// The last seq is read from run_events itself rather than runs.event_seq: the projector commits the terminal status
// together with the run's last events, so once it is visible every event up to that seq is readable too.
const FINISH_COLUMNS = 'r.status, coalesce((SELECT max(seq) FROM run_events e WHERE e.run_id = r.id), 0) AS last_seq';
type FinishRow = { status: string; last_seq: string };
// Prepared once per connection: every stream a client opens runs them.
const SUBJECTS = preparedStatement(
  'fanout.run-subjects',
  `SELECT r.id, r.workspace_id, ${FINISH_COLUMNS} FROM runs r WHERE r.id = ANY($1::uuid[])`,
);
const HISTORY = preparedStatement(
  'fanout.run-history',
  `SELECT workflow_id, seq, kind, status, node_id, detail, occurred_at FROM run_events
    WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
);
const FINISHED = preparedStatement('fanout.run-finished', `SELECT ${FINISH_COLUMNS} FROM runs r WHERE r.id = $1`);
type SubjectRow = { id: string; workspace_id: string } & FinishRow;
const finishedThrough = (row: FinishRow) => (isTerminal(row.status) ? Number(row.last_seq) : undefined);

/** Reads runs and their `run_events` (the run projector writes them from the coordinator's changelog, after Kafka has them). */
export class RunEventsRepository {
  /** Streams opened together (clients watching the runs they just started) share one lookup query. */
  private readonly subjects: DataLoader<string, SubjectRow | undefined>;

  constructor(private readonly pool: Pool) {
    this.subjects = coalescingLoader(async (runIds) => {
      const { rows } = await this.pool.query<SubjectRow>(SUBJECTS.with([runIds]));
      const byId = new Map(rows.map((row) => [row.id, row]));
      return runIds.map((id) => byId.get(id.toLowerCase()));
    });
  }

  /** The run as a stream subject, or undefined if it does not exist in this workspace. */
  async subject(workspaceId: string, runId: string): Promise<StreamSubject | undefined> {
    const row = await this.subjects.load(runId);
    if (row?.workspace_id !== workspaceId) return undefined;
    return {
      kind: 'run',
      key: runKey(runId),
      history: this.history(runId),
      finishedThrough: finishedThrough(row),
      projectedThrough: Number(row.last_seq),
    };
  }

  private history(runId: string): StreamHistory {
    return {
      after: async (after, limit) => {
        const { rows } = await this.pool.query<{
          workflow_id: string;
          seq: string;
          kind: string;
          status: string;
          node_id: string | null;
          detail: unknown;
          occurred_at: Date;
        }>(HISTORY.with([runId, after, limit]));
        return rows.map((r) =>
          toStreamEvent({
            runId,
            workflowId: r.workflow_id,
            seq: Number(r.seq),
            kind: r.kind,
            status: r.status,
            nodeId: r.node_id,
            detail: r.detail,
            occurredAt: r.occurred_at,
          }),
        );
      },
      finishedThrough: async () => {
        const { rows } = await this.pool.query<FinishRow>(FINISHED.with([runId]));
        const row = rows[0];
        return row ? finishedThrough(row) : 0; // the run is gone: nothing more will come
      },
    };
  }
}
