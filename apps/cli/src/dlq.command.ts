import type { Command } from 'commander';
import { createSchemaRegistry } from '#libs/events';
import type { Admin } from '#libs/kafka';
import {
  deadLetterCounts,
  isDeadLetterTopic,
  listDeadLetterTopics,
  readDeadLetters,
  redriveDeadLetters,
  UnknownSourceTopic,
} from '#libs/messaging';
import {
  CliError,
  config,
  interrupted,
  intOption,
  json,
  out,
  progress,
  resolveTopic,
  table,
  withAdmin,
} from './cli-support.js';

async function resolveDlq(admin: Admin, name: string): Promise<string> {
  return resolveTopic(admin, isDeadLetterTopic(name) ? name : `${name}.dlq`, isDeadLetterTopic).catch(
    (error: unknown) => {
      if (error instanceof CliError) {
        throw new CliError(error.message.replace('unknown topic', 'unknown dead-letter topic'), error.exitCode);
      }
      throw error;
    },
  );
}

export function registerDlq(program: Command): void {
  const dlq = program
    .command('dlq')
    .description('dead-letter topics (<topic>.dlq): inspect and redrive poison messages');

  dlq
    .command('list')
    .description('dead-letter topics with their message counts and how many are not redriven yet')
    .option('--json', 'one JSON document')
    .action(async (options: { json?: boolean }) => {
      await withAdmin(async (admin) => {
        const rows = await listDeadLetterTopics(admin, config().KAFKA_TOPIC_PREFIX);
        if (options.json) return out(json(rows));
        table(
          ['TOPIC', 'MESSAGES', 'NOT_REDRIVEN'],
          rows.map((r) => [r.topic, r.messages, r.notRedriven]),
        ).forEach(out);
      });
    });

  dlq
    .command('show')
    .description(
      'messages of a dead-letter topic as JSON lines: dlq.* headers (error, source, attempts) and decoded value',
    )
    .argument('<topic>', 'the .dlq topic (or its source topic), with or without the deployment prefix')
    .option('--max <n>', 'at most n messages', intOption('--max'))
    .action(async (name: string, options: { max?: number }) => {
      const registry = createSchemaRegistry(config().SCHEMA_REGISTRY_URL);
      await withAdmin(async (admin, kafka) => {
        const topic = await resolveDlq(admin, name);
        const shown = await readDeadLetters(kafka, admin, topic, {
          decode: (value) => registry.decode(value),
          signal: interrupted(),
          ...(options.max !== undefined ? { max: options.max } : {}),
          onMessage: (message) => out(json(message)),
        });
        progress(`${shown} message(s) in ${topic}`);
      });
    });

  dlq
    .command('redrive')
    .description(
      'republish dead letters to their source topic (original key, value and headers minus dlq.*), committing each on the orchestrator-cli-redrive group so none is redriven twice',
    )
    .argument('<topic>', 'the .dlq topic (or its source topic), with or without the deployment prefix')
    .option('--max <n>', 'at most n messages', intOption('--max'))
    .option('--dry-run', 'print what would be redriven; publish and commit nothing')
    .option('--json', 'one JSON line per message')
    .action(async (name: string, options: { max?: number; dryRun?: boolean; json?: boolean }) => {
      await withAdmin(async (admin, kafka) => {
        const prefix = config().KAFKA_TOPIC_PREFIX;
        const topic = await resolveDlq(admin, name);
        const { notRedriven } = await deadLetterCounts(admin, topic, prefix);
        const total = options.max !== undefined ? Math.min(options.max, notRedriven) : notRedriven;
        const verb = options.dryRun ? 'would redrive' : 'redriven';
        progress(`${options.dryRun ? 'would redrive' : 'redriving'} ${total} message(s) from ${topic}`);
        const redriven = await redriveDeadLetters(kafka, admin, topic, {
          prefix,
          signal: interrupted(),
          ...(options.max !== undefined ? { max: options.max } : {}),
          ...(options.dryRun ? { dryRun: true } : {}),
          onRedriven: (line, done) => {
            if (options.json) out(json({ ...line, dryRun: options.dryRun ?? false }));
            else out(`${verb} ${topic}[${line.partition}]@${line.offset} -> ${line.to}`);
            if (done % 100 === 0) progress(`${done}/${total}`);
          },
        }).catch((error: unknown) => {
          if (error instanceof UnknownSourceTopic) throw new CliError(error.message);
          throw error;
        });
        progress(`${options.dryRun ? 'would redrive' : 'redrove'} ${redriven.length} message(s)`);
      });
    });
}
