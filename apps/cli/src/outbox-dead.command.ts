import type { Command } from 'commander';
import { discardDeadLetter, listDeadLetters, redriveDeadLetter } from '#libs/outbox';
import { CliError, EXIT, intOption, json, out, table, withPostgres } from './cli-support.js';

const outboxId = (value: string): string => {
  if (!/^[1-9][0-9]{0,18}$/.test(value)) throw new CliError(`not an outbox row id: ${value}`, EXIT.usage);
  return value;
};

/** `outbox dead list|redrive|discard`: the rows the broker refused for good (outbox_dead_letters). */
export function registerOutboxDead(outbox: Command): void {
  const dead = outbox
    .command('dead')
    .description('outbox rows the broker refused for good (too large, invalid), kept in outbox_dead_letters');

  dead
    .command('list')
    .description("dead rows, oldest first: topic, key, size, the broker's error, when and by whom they were moved")
    .option('--limit <n>', 'at most this many rows', intOption('--limit'), 100)
    .option('--json', 'one JSON array')
    .action(async (options: { limit: number; json?: boolean }) => {
      const rows = await withPostgres((client) => listDeadLetters(client, options.limit));
      if (options.json) return out(json(rows));
      out(`dead rows: ${rows.length}${rows.length === options.limit ? ` (first ${options.limit})` : ''}`);
      if (!rows.length) return;
      table(
        ['ID', 'TOPIC', 'KEY', 'EVENT', 'BYTES', 'DEAD_AT', 'BY', 'ERROR'],
        rows.map((r) => [r.id, r.topic, r.key, r.eventType, r.bytes, r.deadAt, r.deadBy, r.error]),
      ).forEach(out);
    });

  dead
    .command('redrive')
    .description(
      'puts a dead row back into the outbox (after raising the limit that refused it); it is published after ' +
        'whatever of its key waits there now',
    )
    .argument('<id>', 'the dead row id (from `outbox dead list`)')
    .option('--json', 'one JSON document')
    .action(async (id: string, options: { json?: boolean }) => {
      const outboxRowId = await withPostgres((client) => redriveDeadLetter(client, outboxId(id)));
      if (outboxRowId === undefined) throw new CliError(`no dead outbox row ${id}`, EXIT.notFound);
      if (options.json) return out(json({ id, outboxId: outboxRowId }));
      out(`dead row ${id} is back in the outbox as row ${outboxRowId}`);
    });

  dead
    .command('discard')
    .description('deletes a dead row for good')
    .argument('<id>', 'the dead row id (from `outbox dead list`)')
    .action(async (id: string) => {
      const deleted = await withPostgres((client) => discardDeadLetter(client, outboxId(id)));
      if (!deleted) throw new CliError(`no dead outbox row ${id}`, EXIT.notFound);
      out(`dead row ${id} discarded`);
    });
}
