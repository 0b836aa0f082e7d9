import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import {
  createKafka,
  createTopicsAndWait,
  LagExporter,
  openAdmin,
  openConsumer,
  openProducer,
  type Admin,
  type Consumer,
  type Kafka,
  type Producer,
} from '#libs/kafka';
import { useTestContext } from '#test/harness/test-context.js';
import { eventually } from '#test/support/app.js';
import { cliEnv, runCli, runCommand } from './cli-process.test-support.js';

const ctx = useTestContext('cli-lag');
const N = 37;

describe('consumer lag: the exporter, `orchestrator lag` and kafka-consumer-groups agree', () => {
  const topic = `${ctx.topicPrefix}lag-test`;
  const group = ctx.group('lag-consumer');
  let kafka: Kafka;
  let admin: Admin;
  let producer: Producer;
  let consumer: Consumer | undefined;
  let exporter: LagExporter;
  const registry = new Registry();

  const startConsumer = async () => {
    const c = openConsumer(kafka, { groupId: group, sessionTimeout: 10_000, maxWaitTimeInMs: 100 });
    await c.connect();
    await c.subscribe({ topics: [topic], fromBeginning: true });
    await c.run({ eachMessage: () => Promise.resolve(), autoCommitInterval: 100 });
    consumer = c;
  };
  const stopConsumer = async () => {
    await consumer?.disconnect();
    consumer = undefined;
  };

  const exporterLag = async (): Promise<{ lag: number; ageSeconds: number[] }> => {
    const metrics = await registry.getMetricsAsJSON();
    const values = (name: string) =>
      (metrics.find((m) => m.name === name)?.values ?? []).filter((v) => v.labels.group === group);
    return {
      lag: values('kafka_consumergroup_lag').reduce((sum, v) => sum + v.value, 0),
      ageSeconds: values('kafka_consumergroup_lag_seconds').map((v) => v.value),
    };
  };
  const cliLag = async (): Promise<number> => {
    const result = await runCli(['lag', '--group', group, '--json'], cliEnv(ctx));
    assert.equal(result.code, 0, result.stderr);
    const groups = JSON.parse(result.stdout) as { group: string; totalLag: number }[];
    assert.equal(groups.length, 1);
    return groups[0]?.totalLag ?? -1;
  };
  const kafkaToolLag = async (): Promise<number> => {
    const result = await runCommand(
      'infra/kafka/bin/kafka-consumer-groups',
      ['--bootstrap-server', ctx.config.KAFKA_BROKERS.join(','), '--describe', '--group', group],
      process.env,
    );
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.split('\n').filter((l) => l.trim());
    const header = lines.findIndex((l) => /\bLAG\b/.test(l));
    const columns = (lines[header] ?? '').trim().split(/\s+/);
    const lagColumn = columns.indexOf('LAG');
    return lines
      .slice(header + 1)
      .map((l) => l.trim().split(/\s+/))
      .filter((cells) => cells[columns.indexOf('TOPIC')] === topic)
      .reduce((sum, cells) => sum + Number(cells[lagColumn]), 0);
  };

  before(async () => {
    kafka = createKafka({ brokers: ctx.config.KAFKA_BROKERS, clientId: ctx.id, logger: ctx.logger });
    admin = openAdmin(kafka, 'lag-test');
    await admin.connect();
    ctx.defer(() => admin.disconnect());
    await createTopicsAndWait(admin, [{ topic, numPartitions: 3 }]);
    producer = openProducer(kafka, 'lag-test');
    await producer.connect();
    ctx.defer(() => producer.disconnect());
    exporter = new LagExporter({ kafka, registry, prefix: ctx.topicPrefix, cacheMs: 0 });
    ctx.defer(() => exporter.close());
  });
  after(() => stopConsumer());

  it('reports the same lag N while the group is stopped, and 0 in all three once it drains', async () => {
    // The group consumes what is there and commits, then stops.
    // One on every partition, so the group commits on each (kafka-consumer-groups shows no lag where it never did).
    await producer.send({
      topic,
      messages: [0, 1, 2].map((partition) => ({ partition, value: `before ${partition}` })),
    });
    await startConsumer();
    await eventually(
      async () => ((await exporterLag()).lag === 0 && (await cliLag()) === 0 ? true : undefined),
      'caught up',
    );
    await stopConsumer();

    const sentAt = Date.now();
    await producer.send({
      topic,
      messages: Array.from({ length: N }, (_, i) => ({ key: `key-${i}`, value: `message ${i}` })),
    });

    // The age of the oldest unconsumed message grows from 0 as they wait: the exporter shows it reach a second, and
    // never more than the time since they were sent.
    const fromExporter = await eventually(async () => {
      const read = await exporterLag();
      return read.ageSeconds.some((s) => s >= 1) ? read : undefined;
    }, 'an oldest unconsumed age of 1 s or more');
    const sinceSentSeconds = (Date.now() - sentAt) / 1000;
    assert.equal(fromExporter.lag, N);
    assert.ok(
      fromExporter.ageSeconds.every((s) => s <= sinceSentSeconds),
      `oldest unconsumed age: ${fromExporter.ageSeconds.join(',')}, sent ${sinceSentSeconds} s ago`,
    );
    assert.equal(await cliLag(), N);
    assert.equal(await kafkaToolLag(), N);
    const table = await runCli(['lag', '--group', group], cliEnv(ctx));
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /GROUP\s+STATE\s+TOPIC\s+PARTITION\s+COMMITTED\s+END\s+LAG\s+OLDEST/);

    await startConsumer();
    await eventually(
      async () => ((await exporterLag()).lag === 0 ? true : undefined),
      'exporter lag back to 0',
      30_000,
    );
    assert.equal(await cliLag(), 0);
    assert.equal(await kafkaToolLag(), 0);
    assert.deepEqual(
      (await exporterLag()).ageSeconds.filter((s) => s !== 0),
      [],
    );
  });

  it('names an unknown group with exit code 3', async () => {
    const result = await runCli(['lag', '--group', 'no-such-group'], cliEnv(ctx));
    assert.equal(result.code, 3);
    assert.match(result.stderr, /^error: unknown consumer group "no-such-group"/);
  });
});
