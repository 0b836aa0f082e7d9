import type pg from 'pg';

type Queryable = Pick<pg.ClientBase, 'query'>;

/** What waits in the outbox, per topic and per lane, the relays alive, and the rows the broker refused for good. */
export interface OutboxStatus {
  readonly rows: number;
  readonly oldestAgeSeconds: number | null;
  readonly topics: { topic: string; rows: number; oldestAgeSeconds: number }[];
  readonly lanes: { lane: number; rows: number; oldestAgeSeconds: number }[];
  readonly relays: { relayId: string; lastSeenAgeSeconds: number }[];
  /** Rows in outbox_dead_letters (`orchestrator outbox dead list`). */
  readonly deadRows: number;
}

const round = (n: number) => Math.round(n * 1000) / 1000;

export async function readOutboxStatus(client: Queryable): Promise<OutboxStatus> {
  const age = 'extract(epoch FROM now() - min(created_at))::float8';
  const [topics, lanes, relays, dead] = await Promise.all([
    client.query<{ topic: string; rows: number; age: number }>(
      `SELECT topic, count(*)::int AS rows, ${age} AS age FROM outbox GROUP BY topic ORDER BY topic`,
    ),
    client.query<{ lane: number; rows: number; age: number }>(
      `SELECT shard::int AS lane, count(*)::int AS rows, ${age} AS age FROM outbox GROUP BY shard ORDER BY shard`,
    ),
    client.query<{ relay_id: string; age: number }>(
      `SELECT relay_id, extract(epoch FROM now() - last_seen)::float8 AS age FROM outbox_relays ORDER BY relay_id`,
    ),
    client.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox_dead_letters'),
  ]);
  return {
    rows: topics.rows.reduce((sum, r) => sum + r.rows, 0),
    oldestAgeSeconds: topics.rows.length ? round(Math.max(...topics.rows.map((r) => r.age))) : null,
    topics: topics.rows.map((r) => ({ topic: r.topic, rows: r.rows, oldestAgeSeconds: round(r.age) })),
    lanes: lanes.rows.map((r) => ({ lane: r.lane, rows: r.rows, oldestAgeSeconds: round(r.age) })),
    relays: relays.rows.map((r) => ({ relayId: r.relay_id, lastSeenAgeSeconds: round(r.age) })),
    deadRows: dead.rows[0]?.n ?? 0,
  };
}
