import type { Admin, RecordMetadata } from 'kafkajs';
import type { Pool } from '#libs/db';
import type { TestApp } from './app.js';
import { eventually } from './app.js';

export interface RunReply {
  id: string;
  status: string;
  workflowVersion: number;
  nodes: Record<
    string,
    {
      status: string;
      attempts: number;
      output?: unknown;
      outputRef?: string;
      error?: string;
      /** Set when the output came from the node result cache. */
      cached?: { fromRunId: string; fromNodeId: string; producedAt: string; savedMs: number };
    }
  >;
  output?: unknown;
  error?: string;
}

const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'timed_out']);

export async function createWorkflow(api: TestApp, definition: unknown, name = 'wf'): Promise<string> {
  const reply = await api.request<{ id: string }>('POST', '/v1/workflows', { body: { name, definition } });
  if (reply.status !== 201) throw new Error(`create workflow: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body.id;
}

export async function startRun(
  api: TestApp,
  workflowId: string,
  input: unknown = {},
  headers?: Record<string, string>,
): Promise<string> {
  const reply = await api.request<{ runId: string }>('POST', `/v1/workflows/${workflowId}/runs`, {
    body: { input },
    ...(headers ? { headers } : {}),
  });
  if (reply.status !== 202) throw new Error(`start run: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body.runId;
}

export async function readRun(api: TestApp, runId: string): Promise<RunReply> {
  const reply = await api.request<RunReply>('GET', `/v1/runs/${runId}`);
  if (reply.status !== 200) throw new Error(`read run: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body;
}

/** Polls the run until `until` holds (by default: it ended). */
export function waitForRun(
  api: TestApp,
  runId: string,
  until: (run: RunReply) => boolean = (run) => TERMINAL.has(run.status),
  timeoutMs = 20_000,
): Promise<RunReply> {
  return eventually(
    async () => {
      const run = await readRun(api, runId);
      return until(run) ? run : undefined;
    },
    `run ${runId}`,
    timeoutMs,
  );
}

/** The partition our producers (murmur2 on the key, as Kafka's own clients) put a key in, of a topic with `count`. */
export { partitionOfKey as partitionOf } from '#libs/kafka';

/**
 * Waits until the consumer group has committed offsets past every given message. Our batch transport commits only
 * after the handler (and its transaction) finished, so this means "the group is done with these messages".
 */
export async function waitForCommitted(
  admin: Admin,
  groupId: string,
  topic: string,
  sent: readonly { partition: number; offset: string }[],
  timeoutMs = 20_000,
): Promise<void> {
  const needed = new Map<number, bigint>();
  for (const m of sent) {
    const next = BigInt(m.offset) + 1n;
    if ((needed.get(m.partition) ?? -1n) < next) needed.set(m.partition, next);
  }
  await eventually(
    async () => {
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const at = new Map((committed?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
      return [...needed].every(([partition, next]) => (at.get(partition) ?? -1n) >= next) ? true : undefined;
    },
    `${groupId} to commit ${topic} up to ${[...needed].map(([p, next]) => `${p}:${next}`).join(',')}`,
    timeoutMs,
  );
}

/** Waits until the consumer group has committed everything the topic holds right now, in every partition. */
export async function waitForCaughtUp(admin: Admin, groupId: string, topic: string, timeoutMs = 20_000): Promise<void> {
  const ends = await admin.fetchTopicOffsets(topic);
  await waitForCommitted(
    admin,
    groupId,
    topic,
    ends.filter((e) => e.high !== e.low).map((e) => ({ partition: e.partition, offset: String(BigInt(e.high) - 1n) })),
    timeoutMs,
  );
}

/**
 * Where the messages of one kafkajs send landed: its metadata has one entry per partition with the first offset, and
 * `perPartition` says how many messages the send put in each (default 1), so this returns each one's last offset.
 */
export function lastOffsets(
  records: readonly RecordMetadata[],
  perPartition: ReadonlyMap<number, number> = new Map(),
): { partition: number; offset: string }[] {
  return records.map((r) => ({
    partition: r.partition,
    offset: String(BigInt(r.baseOffset ?? '0') + BigInt((perPartition.get(r.partition) ?? 1) - 1)),
  }));
}

/**
 * What is wrong with the stored event logs of these runs, one line per problem (DESIGN §3, invariants 4 and 5):
 * seqs not exactly 1..n, n not the run's event_seq, or a node attempt dispatched more than once.
 */
export async function runEventAnomalies(pool: Pool, runIds: readonly string[]): Promise<string[]> {
  const { rows: logs } = await pool.query<{
    id: string;
    event_seq: string;
    n: string;
    max: string | null;
    distinct: string;
  }>(
    `SELECT r.id, r.event_seq, count(e.seq) AS n, max(e.seq) AS max, count(DISTINCT e.seq) AS distinct
       FROM runs r LEFT JOIN run_events e ON e.run_id = r.id
      WHERE r.id = ANY($1::uuid[]) GROUP BY r.id, r.event_seq`,
    [runIds],
  );
  const problems = logs
    .filter(
      (r) => r.n !== r.distinct || r.n !== (r.max ?? '0') || r.n !== r.event_seq || (r.max ?? '0') !== r.event_seq,
    )
    .map((r) => `run ${r.id}: ${r.n} events, ${r.distinct} distinct seqs, max seq ${r.max}, event_seq ${r.event_seq}`);
  if (logs.length !== runIds.length) problems.push(`${runIds.length - logs.length} run(s) missing`);
  const { rows: twice } = await pool.query<{ run_id: string; node_id: string; attempt: string; n: string }>(
    `SELECT run_id, node_id, detail->>'attempt' AS attempt, count(*) AS n FROM run_events
      WHERE run_id = ANY($1::uuid[]) AND kind = 'node.dispatched'
      GROUP BY run_id, node_id, detail->>'attempt' HAVING count(*) > 1`,
    [runIds],
  );
  for (const t of twice)
    problems.push(`run ${t.run_id}: node ${t.node_id} attempt ${t.attempt} dispatched ${t.n} times`);
  return problems;
}
