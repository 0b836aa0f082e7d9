import type { Command } from 'commander';
import { createSchemaRegistry } from '#libs/events';
import { IDEMPOTENT_PRODUCER, openProducer, type Admin, type IHeaders } from '#libs/kafka';
import { CliError, config, intOption, json, out, progress, resolveTopic, table, withAdmin } from './cli-support.js';
import { decodeMessage } from './tail.command.js';
import { readTopic } from './topic-reader.js';

const isDlq = (topic: string) => topic.endsWith('.dlq');
/** The group whose committed offsets on a dead-letter topic mark what was already redriven. */
export const redriveGroup = () => `${config().KAFKA_TOPIC_PREFIX}orchestrator-cli-redrive`;

async function resolveDlq(admin: Admin, name: string): Promise<string> {
  return resolveTopic(admin, isDlq(name) ? name : `${name}.dlq`, isDlq).catch((error: unknown) => {
    if (error instanceof CliError) {
      throw new CliError(error.message.replace('unknown topic', 'unknown dead-letter topic'), error.exitCode);
    }
    throw error;
  });
}

async function counts(admin: Admin, topic: string): Promise<{ messages: number; notRedriven: number }> {
  const offsets = await admin.fetchTopicOffsets(topic);
  const committed = new Map(
    (await admin.fetchOffsets({ groupId: redriveGroup(), topics: [topic] }))
      .flatMap((t) => t.partitions)
      .map((p) => [p.partition, Number(p.offset)]),
  );
  let messages = 0;
  let notRedriven = 0;
  for (const o of offsets) {
    const low = Number(o.low);
    const high = Number(o.high);
    messages += high - low;
    notRedriven += high - Math.max(low, committed.get(o.partition) ?? -1);
  }
  return { messages, notRedriven };
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
        const prefix = config().KAFKA_TOPIC_PREFIX;
        const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix) && isDlq(t)).sort();
        const rows = [];
        for (const topic of topics) rows.push({ topic, ...(await counts(admin, topic)) });
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
        const shown = await readTopic(kafka, admin, topic, {
          fromBeginning: true,
          untilEnd: true,
          ...(options.max !== undefined ? { max: options.max } : {}),
          onMessage: async (message, partition) => {
            const { line } = await decodeMessage((v) => registry.decode(v), topic, partition, message);
            const headers = line.headers as Record<string, string>;
            const dlqHeaders = Object.fromEntries(Object.entries(headers).filter(([k]) => k.startsWith('dlq.')));
            out(json({ ...line, dlq: dlqHeaders }));
          },
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
        const topic = await resolveDlq(admin, name);
        const { notRedriven } = await counts(admin, topic);
        const total = options.max !== undefined ? Math.min(options.max, notRedriven) : notRedriven;
        const known = new Set(await admin.listTopics());
        progress(`${options.dryRun ? 'would redrive' : 'redriving'} ${total} message(s) from ${topic}`);
        const producer = openProducer(kafka, 'cli-redrive', IDEMPOTENT_PRODUCER);
        if (!options.dryRun) await producer.connect();
        let done = 0;
        try {
          await readTopic(kafka, admin, topic, {
            // Dry runs must not leave offsets (or a group) behind: they read through a throwaway group.
            ...(options.dryRun ? {} : { groupId: redriveGroup() }),
            fromBeginning: true,
            untilEnd: true,
            ...(options.max !== undefined ? { max: options.max } : {}),
            onMessage: async (message, partition, consumer) => {
              const headers: IHeaders = {};
              let source = topic.slice(0, -'.dlq'.length);
              for (const [key, value] of Object.entries(message.headers ?? {})) {
                if (key === 'dlq.source.topic' && value !== undefined) source = String(value);
                if (!key.startsWith('dlq.') && value !== undefined) headers[key] = value;
              }
              if (!known.has(source)) throw new CliError(`source topic "${source}" of ${topic} does not exist`);
              if (!options.dryRun) {
                await producer.send({
                  topic: source,
                  acks: -1,
                  messages: [{ key: message.key, value: message.value, headers }],
                });
                await consumer.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }]);
              }
              done++;
              const line = {
                partition,
                offset: Number(message.offset),
                to: source,
                key: message.key?.toString('utf8') ?? null,
              };
              if (options.json) out(json({ ...line, dryRun: options.dryRun ?? false }));
              else
                out(
                  `${options.dryRun ? 'would redrive' : 'redriven'} ${topic}[${partition}]@${line.offset} -> ${source}`,
                );
              if (done % 100 === 0) progress(`${done}/${total}`);
            },
          });
        } finally {
          if (!options.dryRun) await producer.disconnect();
        }
        progress(`${options.dryRun ? 'would redrive' : 'redrove'} ${done} message(s)`);
      });
    });
}
