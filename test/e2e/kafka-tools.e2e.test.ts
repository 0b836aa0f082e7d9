import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { applyTopics, createKafka, openAdmin, openConsumer, openProducer } from '#libs/kafka';
import { useTestContext } from '#test/harness/test-context.js';

const run = promisify(execFile);
const ctx = useTestContext('kafka-tools');
const tool = (name: string, args: string[]) => run(`infra/kafka/bin/${name}`, args, { timeout: 60_000 });

describe("Kafka's own console tools on the project's classpath", () => {
  const brokers = ctx.config.KAFKA_BROKERS.join(',');
  const kafka = createKafka({ brokers: ctx.config.KAFKA_BROKERS, clientId: ctx.id, logger: ctx.logger });
  const topic = ctx.topic('run.events').name;

  it('kafka-topics describes a topic the catalog created', async () => {
    const admin = openAdmin(kafka, 'tools-admin');
    await admin.connect();
    ctx.defer(() => admin.disconnect());
    await applyTopics(admin, ctx.topics);
    const { stdout } = await tool('kafka-topics', ['--bootstrap-server', brokers, '--describe', '--topic', topic]);
    assert.match(stdout, new RegExp(`Topic: ${topic.replaceAll('.', '\\.')}\\s.*PartitionCount: 3`));
    assert.match(stdout, /compression\.type=snappy/);
  });

  it('console producer and consumer round-trip a message', async () => {
    const produce = run('infra/kafka/bin/kafka-console-producer', ['--bootstrap-server', brokers, '--topic', topic]);
    produce.child.stdin?.end('hello from the console\n');
    await produce;
    const { stdout } = await tool('kafka-console-consumer', [
      '--bootstrap-server',
      brokers,
      '--topic',
      topic,
      '--from-beginning',
      '--max-messages',
      '1',
      '--timeout-ms',
      '30000',
    ]);
    assert.equal(stdout.trim(), 'hello from the console');
  });

  it('kafka-consumer-groups reports the lag of a kafkajs group, and --all-groups works', async () => {
    const group = ctx.group('lagging');
    const producer = openProducer(kafka, 'tools-producer');
    await producer.connect();
    ctx.defer(() => producer.disconnect());
    // The group reads and commits the one message of the round-trip above; then 5 more arrive unread.
    const consumer = openConsumer(kafka, { groupId: group });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const committedPartition = await new Promise<number>((resolve, reject) => {
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            await consumer.commitOffsets([{ topic, partition, offset: String(Number(message.offset) + 1) }]);
            resolve(partition);
          },
        })
        .catch(reject);
    });
    await consumer.disconnect();
    // The tool lists only partitions the group has committed, so the new messages go to that partition.
    await producer.send({
      topic,
      messages: Array.from({ length: 5 }, (_, i) => ({ partition: committedPartition, value: `v${i}` })),
    });

    const { stdout } = await tool('kafka-consumer-groups', [
      '--bootstrap-server',
      brokers,
      '--describe',
      '--group',
      group,
    ]);
    const lag = stdout
      .split('\n')
      .filter((line) => line.startsWith(group))
      .reduce((sum, line) => sum + Number(line.trim().split(/\s+/)[5] ?? 0), 0);
    assert.equal(lag, 5, stdout);

    const all = await tool('kafka-consumer-groups', ['--bootstrap-server', brokers, '--describe', '--all-groups']);
    assert.match(all.stdout, new RegExp(group.replaceAll('.', '\\.')));
  });
});
