import type { Command } from 'commander';
import { readConsumerLag } from '#libs/kafka';
import { CliError, config, EXIT, json, out, table, withAdmin } from './cli-support.js';

export function registerLag(program: Command): void {
  program
    .command('lag')
    .description(
      "consumer lag per group, topic and partition (committed offset, end offset, lag, age of the oldest unconsumed message) of this deployment's groups",
    )
    .option('--group <group>', 'only this group (full id, or without the deployment prefix)')
    .option('--no-age', 'skip reading the oldest unconsumed message of lagging partitions')
    .option('--json', 'one JSON document')
    .action(async (options: { group?: string; age: boolean; json?: boolean }) => {
      await withAdmin(async (admin, kafka) => {
        const prefix = config().KAFKA_TOPIC_PREFIX;
        const groups = options.group ? [options.group, `${prefix}${options.group}`] : undefined;
        const result = await readConsumerLag(admin, {
          prefix,
          ...(groups ? { groups } : {}),
          ...(options.age ? { withAge: { kafka, timeoutMs: 3000 } } : {}),
        });
        if (options.group && !result.length) {
          throw new CliError(`unknown consumer group "${options.group}"`, EXIT.notFound);
        }
        if (options.json) {
          return out(
            json(
              result.map((g) => ({
                ...g,
                totalLag: g.partitions.reduce((sum, p) => sum + p.lag, 0),
              })),
            ),
          );
        }
        const rows = result.flatMap((g) =>
          g.partitions.length
            ? g.partitions.map((p) => [
                g.group,
                g.state,
                p.topic,
                p.partition,
                p.committedOffset,
                p.endOffset,
                p.lag,
                p.oldestUnconsumedAgeMs === null ? null : `${(p.oldestUnconsumedAgeMs / 1000).toFixed(1)}s`,
              ])
            : [[g.group, g.state, null, null, null, null, null, null]],
        );
        table(['GROUP', 'STATE', 'TOPIC', 'PARTITION', 'COMMITTED', 'END', 'LAG', 'OLDEST'], rows).forEach(out);
      });
    });
}
