import type { Command } from 'commander';
import kafkajs from 'kafkajs';
import { applyTopics, describePlan, TopicChangeRefused } from '#libs/kafka';
import { catalog, CliError, config, json, out, progress, resolveTopic, table, withAdmin } from './cli-support.js';

const { ConfigResourceTypes } = kafkajs;

export function registerTopics(program: Command): void {
  const topics = program.command('topics').description('Kafka topics of this deployment (KAFKA_TOPIC_PREFIX)');

  topics
    .command('list')
    .description('topics on the broker with their partition count and whether the catalog declares them')
    .option('--json', 'one JSON document')
    .action(async (options: { json?: boolean }) => {
      await withAdmin(async (admin) => {
        const prefix = config().KAFKA_TOPIC_PREFIX;
        const names = (await admin.listTopics()).filter((t) => t.startsWith(prefix) && !t.startsWith('__')).sort();
        const declared = new Set(catalog().map((t) => t.name));
        const metadata = names.length ? (await admin.fetchTopicMetadata({ topics: names })).topics : [];
        const rows = names.map((name) => ({
          topic: name,
          partitions: metadata.find((m) => m.name === name)?.partitions.length ?? 0,
          inCatalog: declared.has(name),
        }));
        if (options.json) return out(json(rows));
        table(
          ['TOPIC', 'PARTITIONS', 'CATALOG'],
          rows.map((r) => [r.topic, r.partitions, r.inCatalog ? 'yes' : 'no']),
        ).forEach(out);
      });
    });

  topics
    .command('describe')
    .description('partitions (leader, replicas, in-sync replicas, earliest and end offsets) and config of one topic')
    .argument('<topic>', 'full name, or the name without the deployment prefix')
    .option('--json', 'one JSON document')
    .action(async (name: string, options: { json?: boolean }) => {
      await withAdmin(async (admin) => {
        const topic = await resolveTopic(admin, name);
        const [metadata, offsets, configs] = await Promise.all([
          admin.fetchTopicMetadata({ topics: [topic] }),
          admin.fetchTopicOffsets(topic),
          admin.describeConfigs({
            includeSynonyms: false,
            resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }],
          }),
        ]);
        const partitions = (metadata.topics[0]?.partitions ?? [])
          .map((p) => {
            const o = offsets.find((x) => x.partition === p.partitionId);
            return {
              partition: p.partitionId,
              leader: p.leader,
              replicas: p.replicas,
              isr: p.isr,
              earliestOffset: Number(o?.low ?? 0),
              endOffset: Number(o?.high ?? 0),
            };
          })
          .sort((a, b) => a.partition - b.partition);
        const config = Object.fromEntries(
          (configs.resources[0]?.configEntries ?? [])
            .filter((e) => !e.isDefault)
            .map((e) => [e.configName, e.configValue]),
        );
        const messages = partitions.reduce((sum, p) => sum + p.endOffset - p.earliestOffset, 0);
        if (options.json) return out(json({ topic, partitions, messages, config }));
        out(`topic: ${topic}`);
        out(`messages: ${messages}`);
        out(
          `config: ${
            Object.entries(config)
              .map(([k, v]) => `${k}=${v}`)
              .join(' ') || '(defaults)'
          }`,
        );
        table(
          ['PARTITION', 'LEADER', 'REPLICAS', 'ISR', 'EARLIEST', 'END'],
          partitions.map((p) => [
            p.partition,
            p.leader,
            p.replicas.join(','),
            p.isr.join(','),
            p.earliestOffset,
            p.endOffset,
          ]),
        ).forEach(out);
      });
    });

  topics
    .command('apply')
    .description('create or update the catalog topics; refuses (and applies nothing) when a change would drop data')
    .option('--json', 'the plan as JSON')
    .action(async (options: { json?: boolean }) => {
      await withAdmin(async (admin) => {
        progress(`applying ${catalog().length} catalog topics...`);
        try {
          const plan = await applyTopics(admin, catalog());
          if (options.json) {
            return out(json(plan.actions.map((a) => ({ topic: a.spec.name, action: a.kind }))));
          }
          describePlan(plan).forEach(out);
        } catch (error) {
          if (error instanceof TopicChangeRefused) {
            describePlan(error.plan).forEach((line) => progress(line));
            throw new CliError(`refused ${error.plan.refusals.length} destructive topic change(s); nothing applied`);
          }
          throw error;
        }
      });
    });
}
