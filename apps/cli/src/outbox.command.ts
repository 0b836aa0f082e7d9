import type { Command } from 'commander';
import { json, out, table, withPostgres } from './cli-support.js';
import { registerOutboxDead } from './outbox-dead.command.js';

interface OutboxStatus {
  rows: number;
  oldestAgeSeconds: number | null;
  topics: { topic: string; rows: number; oldestAgeSeconds: number }[];
  lanes: { lane: number; rows: number; oldestAgeSeconds: number }[];
  relays: { relayId: string; lastSeenAgeSeconds: number }[];
}

export function registerOutbox(program: Command): void {
  const outbox = program.command('outbox').description('the transactional outbox in Postgres (DATABASE_URL)');
  registerOutboxDead(outbox);
  outbox
    .command('status')
    .description('rows waiting per topic and per lane with the oldest age, and the relays alive')
    .option('--json', 'one JSON document')
    .action(async (options: { json?: boolean }) => {
      const status = await withPostgres(async (client): Promise<OutboxStatus> => {
        const age = 'extract(epoch FROM now() - min(created_at))::float8';
        const [topics, lanes, relays] = await Promise.all([
          client.query<{ topic: string; rows: number; age: number }>(
            `SELECT topic, count(*)::int AS rows, ${age} AS age FROM outbox GROUP BY topic ORDER BY topic`,
          ),
          client.query<{ lane: number; rows: number; age: number }>(
            `SELECT shard::int AS lane, count(*)::int AS rows, ${age} AS age FROM outbox GROUP BY shard ORDER BY shard`,
          ),
          client.query<{ relay_id: string; age: number }>(
            `SELECT relay_id, extract(epoch FROM now() - last_seen)::float8 AS age FROM outbox_relays ORDER BY relay_id`,
          ),
        ]);
        const round = (n: number) => Math.round(n * 1000) / 1000;
        return {
          rows: topics.rows.reduce((sum, r) => sum + r.rows, 0),
          oldestAgeSeconds: topics.rows.length ? round(Math.max(...topics.rows.map((r) => r.age))) : null,
          topics: topics.rows.map((r) => ({ topic: r.topic, rows: r.rows, oldestAgeSeconds: round(r.age) })),
          lanes: lanes.rows.map((r) => ({ lane: r.lane, rows: r.rows, oldestAgeSeconds: round(r.age) })),
          relays: relays.rows.map((r) => ({ relayId: r.relay_id, lastSeenAgeSeconds: round(r.age) })),
        };
      });
      if (options.json) return out(json(status));
      out(
        `outbox rows: ${status.rows}, oldest: ${status.oldestAgeSeconds === null ? '-' : `${status.oldestAgeSeconds}s`}`,
      );
      if (status.topics.length) {
        table(
          ['TOPIC', 'ROWS', 'OLDEST_S'],
          status.topics.map((t) => [t.topic, t.rows, t.oldestAgeSeconds]),
        ).forEach(out);
        table(
          ['LANE', 'ROWS', 'OLDEST_S'],
          status.lanes.map((l) => [l.lane, l.rows, l.oldestAgeSeconds]),
        ).forEach(out);
      }
      out(`relays alive: ${status.relays.length}`);
      table(
        ['RELAY', 'LAST_SEEN_S'],
        status.relays.map((r) => [r.relayId, r.lastSeenAgeSeconds]),
      ).forEach(out);
    });
}
