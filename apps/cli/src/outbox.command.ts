import type { Command } from 'commander';
import { readOutboxStatus } from '#libs/outbox';
import { json, out, table, withPostgres } from './cli-support.js';
import { registerOutboxDead } from './outbox-dead.command.js';

export function registerOutbox(program: Command): void {
  const outbox = program.command('outbox').description('the transactional outbox in Postgres (DATABASE_URL)');
  registerOutboxDead(outbox);
  outbox
    .command('status')
    .description('rows waiting per topic and per lane with the oldest age, and the relays alive')
    .option('--json', 'one JSON document')
    .action(async (options: { json?: boolean }) => {
      const status = await withPostgres(readOutboxStatus);
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
      if (status.deadRows) out(`dead rows: ${status.deadRows} (orchestrator outbox dead list)`);
      table(
        ['RELAY', 'LAST_SEEN_S'],
        status.relays.map((r) => [r.relayId, r.lastSeenAgeSeconds]),
      ).forEach(out);
    });
}
