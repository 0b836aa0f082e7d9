import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { apiRole } from '#apps/api/src/api.role.js';
import { outboxRelayRole } from '#apps/outbox-relay/src/outbox-relay.role.js';
import { createKafka, openAdmin, openProducer, type Admin, type Producer } from '#libs/kafka';
import { sendToDeadLetters } from '#libs/messaging';
import { useTestContext } from '#test/harness/test-context.js';
import { createTopics, eventually, SAMPLE_DEFINITION, startRoles, type TestApp } from '#test/support/app.js';
import { createWorkflow } from '#test/support/runs.js';
import { cliEnv, runCli, type CliResult } from './cli-process.test-support.js';

const ctx = useTestContext('cli-kafka');

interface TailLine {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  headers: Record<string, string>;
  value?: Record<string, unknown>;
  error?: string;
  dlq?: Record<string, string>;
}

describe('orchestrator topics / tail / dlq / outbox against the real stack', () => {
  let api: TestApp;
  let admin: Admin;
  let producer: Producer;
  const cli = (...args: string[]): Promise<CliResult> => runCli(args, cliEnv(ctx));
  const ok = (result: CliResult): CliResult => {
    assert.equal(result.code, 0, `exit ${result.code}\n${result.stdout}\n${result.stderr}`);
    return result;
  };
  const lines = (result: CliResult) =>
    result.stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as TailLine);
  const endOffsets = async (topic: string) =>
    (await admin.fetchTopicOffsets(topic)).reduce((sum, o) => sum + Number(o.high), 0);

  before(async () => {
    await createTopics(ctx);
    api = await startRoles(ctx, [apiRole, outboxRelayRole]);
    const kafka = createKafka({ brokers: ctx.config.KAFKA_BROKERS, clientId: ctx.id, logger: ctx.logger });
    admin = openAdmin(kafka, 'cli-kafka-test');
    await admin.connect();
    ctx.defer(() => admin.disconnect());
    producer = openProducer(kafka, 'cli-kafka-test');
    await producer.connect();
    ctx.defer(() => producer.disconnect());
  });

  it('lists the catalog topics and describes one', async () => {
    const listed = JSON.parse(ok(await cli('topics', 'list', '--json')).stdout) as {
      topic: string;
      partitions: number;
      inCatalog: boolean;
    }[];
    assert.deepEqual(listed.map((t) => t.topic).sort(), ctx.topics.map((t) => t.name).sort());
    assert.ok(listed.every((t) => t.partitions === 3 && t.inCatalog));
    const described = JSON.parse(ok(await cli('topics', 'describe', 'run.events', '--json')).stdout) as {
      topic: string;
      partitions: { partition: number; leader: number; endOffset: number }[];
      config: Record<string, string>;
    };
    assert.equal(described.topic, ctx.topic('run.events').name);
    assert.deepEqual(
      described.partitions.map((p) => p.partition),
      [0, 1, 2],
    );
    assert.ok(described.partitions.every((p) => p.leader >= 0));
    assert.equal(described.config['compression.type'], 'snappy');
    assert.equal(described.config['retention.ms'], String(ctx.topic('run.events').retentionMs));
    const text = ok(await cli('topics', 'describe', ctx.topic('run.events').name)).stdout;
    assert.match(text, /PARTITION\s+LEADER\s+REPLICAS\s+ISR\s+EARLIEST\s+END/);
    const applied = JSON.parse(ok(await cli('topics', 'apply', '--json')).stdout) as { action: string }[];
    assert.ok(applied.every((a) => a.action === 'unchanged'));
  });

  it('names an unknown topic with exit code 3, for describe, tail and dlq', async () => {
    for (const args of [
      ['topics', 'describe', 'no.such.topic'],
      ['tail', 'no.such.topic'],
      ['dlq', 'show', 'nope'],
    ]) {
      const result = await cli(...args);
      assert.equal(result.code, 3, args.join(' '));
      assert.match(result.stderr, /^error: unknown (dead-letter )?topic "no?.*" \(known: .*run\.events/);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
    }
    const usage = await cli('tail', 'run.events', '--max', 'lots');
    assert.equal(usage.code, 2);
  });

  it('tails real events decoded through the registry and reports an undecodable message (exit 1)', async () => {
    const topic = ctx.topic('patch.created').name;
    const workflowId = await createWorkflow(api, SAMPLE_DEFINITION);
    const patch = await api.request('POST', `/v1/workflows/${workflowId}/patches`, {
      body: { ops: [{ op: 'replace', path: '/nodes/a/config/expression', value: 'input.x + 100' }] },
    });
    assert.equal(patch.status, 202);
    await eventually(async () => ((await endOffsets(topic)) >= 1 ? true : undefined), 'patch.created published');
    await producer.send({ topic, messages: [{ key: workflowId, value: Buffer.from('definitely not avro') }] });

    const result = await cli('tail', 'patch.created', '--from-beginning', '--max', '2');
    assert.equal(result.code, 1, result.stderr);
    const [decoded, broken] = lines(result).sort((a, b) => (a.error ? 1 : 0) - (b.error ? 1 : 0));
    assert.equal(decoded?.key, workflowId);
    assert.equal(decoded?.value?.workflowId, workflowId);
    assert.ok(decoded?.headers, 'headers present');
    assert.equal(broken?.key, workflowId);
    assert.match(broken?.error ?? '', /cannot decode/);
    assert.match(result.stderr, /error: .*patch\.created partition \d+ offset \d+: cannot decode/);
    assert.match(result.stderr, /error: 1 message\(s\) could not be decoded\n$/);

    const partition = decoded?.partition ?? -1;
    const one = await cli(
      'tail',
      'patch.created',
      '--from-beginning',
      '--partition',
      String(partition),
      '--idle-timeout',
      '3000',
    );
    assert.ok(lines(one).length >= 1 && lines(one).every((l) => l.partition === partition), one.stdout);
  });

  it('shows and redrives a poisoned message once, with its dlq.* headers stripped', async () => {
    const source = ctx.topic('run.requested').name;
    const dlq = `${source}.dlq`;
    await sendToDeadLetters(producer, [
      {
        sourceTopic: source,
        partition: 1,
        error: 'poison for the CLI test',
        attempts: 3,
        message: {
          key: Buffer.from('run-1'),
          value: Buffer.from('poison'),
          headers: { traceparent: Buffer.from('00-abc-def-01') },
          offset: '42',
          timestamp: String(Date.now()),
          attributes: 0,
        },
      },
    ]);
    const listed = JSON.parse(ok(await cli('dlq', 'list', '--json')).stdout) as {
      topic: string;
      messages: number;
      notRedriven: number;
    }[];
    assert.deepEqual(
      listed.find((t) => t.topic === dlq),
      { topic: dlq, messages: 1, notRedriven: 1 },
    );
    const [shown] = lines(ok(await cli('dlq', 'show', 'run.requested')));
    assert.equal(shown?.key, 'run-1');
    assert.equal(shown?.dlq?.['dlq.error'], 'poison for the CLI test');
    assert.equal(shown?.dlq?.['dlq.source.topic'], source);
    assert.equal(shown?.dlq?.['dlq.attempts'], '3');
    assert.match(shown?.error ?? '', /cannot decode/);

    const before = await endOffsets(source);
    const dry = ok(await cli('dlq', 'redrive', 'run.requested.dlq', '--dry-run', '--json'));
    assert.equal(lines(dry).length, 1);
    assert.equal(await endOffsets(source), before, 'a dry run publishes nothing');

    const redriven = ok(await cli('dlq', 'redrive', 'run.requested.dlq', '--json'));
    assert.deepEqual(
      lines(redriven).map((l) => [l.key, (l as unknown as { to: string }).to]),
      [['run-1', source]],
    );
    assert.equal(await endOffsets(source), before + 1);
    const [republished] = lines(await cli('tail', 'run.requested', '--from-beginning', '--max', '1'));
    assert.equal(republished?.key, 'run-1');
    assert.deepEqual(republished?.headers, { traceparent: '00-abc-def-01' });
    assert.equal(Buffer.from((republished as unknown as { raw: string }).raw, 'base64').toString(), 'poison');

    const again = ok(await cli('dlq', 'redrive', 'run.requested.dlq', '--json'));
    assert.equal(again.stdout, '', 'nothing is redriven twice');
    assert.equal(await endOffsets(source), before + 1);
    const after = JSON.parse(ok(await cli('dlq', 'list', '--json')).stdout) as { topic: string; notRedriven: number }[];
    assert.equal(after.find((t) => t.topic === dlq)?.notRedriven, 0);
  });

  it('fails with one line naming the problem for a bad or unreachable broker address', async () => {
    const invalid = await runCli(['topics', 'list'], cliEnv(ctx, { KAFKA_BROKERS: 'not a broker' }));
    assert.equal(invalid.code, 2);
    assert.match(invalid.stderr, /^error: Invalid configuration \(1 bad variable\):\n {2}KAFKA_BROKERS: /);
    const unreachable = await runCli(
      ['lag'],
      cliEnv(ctx, { KAFKA_BROKERS: '127.0.0.1:1', ORCHESTRATOR_CLI_KAFKA_TIMEOUT_MS: '2000' }),
    );
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /^error: cannot reach Kafka at 127\.0\.0\.1:1: no answer within 2000 ms\n$/);
  });

  it('reports the outbox and the live relay', async () => {
    const status = JSON.parse(ok(await cli('outbox', 'status', '--json')).stdout) as {
      rows: number;
      relays: { relayId: string }[];
    };
    assert.equal(typeof status.rows, 'number');
    assert.equal(status.relays.length, 1);
    assert.match(ok(await cli('outbox', 'status')).stdout, /relays alive: 1/);
    const bad = await runCli(
      ['outbox', 'status'],
      cliEnv(ctx, { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/no_such_db_x' }),
    );
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /^error: cannot connect to Postgres \(DATABASE_URL\): database "no_such_db_x" does not exist\n$/,
    );
  });
});
