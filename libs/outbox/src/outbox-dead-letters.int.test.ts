import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { cliEnv, runCli } from '#apps/cli/src/cli-process.test-support.js';
import { createPool, inTransaction } from '#libs/db';
import { createKafka, createTopicsAndWait, openAdmin } from '#libs/kafka';
import { useTestContext } from '#test/harness/test-context.js';
import { eventually } from '#test/support/app.js';
import { readTopics } from '#test/support/topic-reader.js';
import { EagerOutboxPublisher } from './eager-publisher.js';
import { OutboxRelayMetrics } from './outbox-relay-metrics.js';
import { OutboxRelay } from './outbox-relay.js';
import { insertOutboxRows, type OutboxRow } from './outbox-writer.js';

const ctx = useTestContext('outbox-dead-letters');

/** Random bytes do not compress, so the broker sees every one of them (its default limit is about 1 MiB). */
const OVERSIZED = randomBytes(1_300_000);

interface DeadRow {
  id: string;
  topic: string;
  key: string;
  bytes: number;
  error: string;
}

describe('rows the broker refuses for good', () => {
  const kafka = createKafka({ brokers: ctx.config.KAFKA_BROKERS, clientId: ctx.id, logger: ctx.logger });
  const pool = createPool(ctx.databaseUrl, { name: 'outbox-dead-letters-test' });
  ctx.defer(() => pool.end());
  const topic = `${ctx.topicPrefix}outbox.dead`;
  const row = (key: string, payload: Buffer | string, to = topic): OutboxRow => ({
    topic: to,
    key,
    eventType: 'test',
    payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload),
  });
  const count = async (table: string) =>
    (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]?.n;
  const cli = (...args: string[]) => runCli(args, cliEnv(ctx));

  it('moves an oversized row to the dead-letter table and publishes the rows around it', async () => {
    const admin = openAdmin(kafka, 'outbox-dead-letters-admin');
    await admin.connect();
    ctx.defer(() => admin.disconnect());
    await createTopicsAndWait(admin, [{ topic, numPartitions: 1 }]);
    const registry = new Registry();
    const relay = new OutboxRelay(
      {
        databaseUrl: ctx.databaseUrl,
        kafka,
        // The relay warns about the row it dead-letters, which is what this test expects to happen.
        logger: ctx.logger.child({}, { level: 'error' }),
        metrics: new OutboxRelayMetrics(registry, pool),
      },
      { sendRetries: 1, retryInitialMs: 50, retryMaxMs: 200 },
    );
    ctx.defer(() => relay.stop());
    const read = await readTopics(kafka, [topic], ctx.group('reader'));
    ctx.defer(() => read.stop());

    // One key, so one lane: the big row sits between normal rows that must not wait for it.
    await inTransaction(pool, (client) =>
      insertOutboxRows(client, [row('k', 'before'), row('k', OVERSIZED), row('k', 'after'), row('other', 'x')]),
    );
    relay.start();

    await read.until((m) => m.length >= 3, 20_000);
    assert.deepEqual(
      read.messages.filter((m) => m.key === 'k').map((m) => m.value.toString()),
      ['before', 'after'],
      'the rows of the key after the dead one still go, in order',
    );
    await eventually(async () => ((await count('outbox')) === 0 ? true : undefined), 'outbox empty');
    const { rows } = await pool.query<{ message_key: string; size: number; error: string; dead_at: Date }>(
      'SELECT message_key, octet_length(payload) AS size, error, dead_at FROM outbox_dead_letters',
    );
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.message_key, 'k');
    assert.equal(rows[0]?.size, OVERSIZED.length, 'the original row is kept whole');
    assert.match(rows[0]?.error ?? '', /MESSAGE_TOO_LARGE|RECORD_LIST_TOO_LARGE/);
    assert.ok(rows[0]?.dead_at instanceof Date);

    const metrics = await registry.metrics();
    assert.match(metrics, /^outbox_dead_lettered_total\{topic="[^"]+outbox\.dead"\} 1$/m);
    assert.match(metrics, /^outbox_dead_letter_rows 1$/m);
    assert.match(metrics, /^outbox_published_total 3$/m);

    const listed = await cli('outbox', 'dead', 'list', '--json');
    assert.equal(listed.code, 0, listed.stderr);
    const dead = JSON.parse(listed.stdout) as DeadRow[];
    assert.equal(dead.length, 1);
    assert.equal(dead[0]?.topic, topic);
    assert.equal(dead[0]?.key, 'k');
    assert.equal(dead[0]?.bytes, OVERSIZED.length);
    assert.match(dead[0]?.error ?? '', /^MESSAGE_TOO_LARGE: /);
    const table = await cli('outbox', 'dead', 'list');
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /dead rows: 1/);

    // The operator raises the topic's limit, then redrives the row: it goes out after the rows it used to precede.
    await admin.alterConfigs({
      validateOnly: false,
      resources: [{ type: 2, name: topic, configEntries: [{ name: 'max.message.bytes', value: '2000000' }] }],
    });
    const redriven = await cli('outbox', 'dead', 'redrive', dead[0]?.id ?? '');
    assert.equal(redriven.code, 0, redriven.stderr);
    await read.until((m) => m.length >= 4, 20_000);
    assert.deepEqual(read.messages.filter((m) => m.key === 'k').at(-1)?.value, OVERSIZED);
    assert.equal(await count('outbox_dead_letters'), 0);
    const missing = await cli('outbox', 'dead', 'redrive', dead[0]?.id ?? '');
    assert.equal(missing.code, 3, 'a dead row that is gone is not found');
    await relay.stop();
  });

  it('lets the eager publisher dead-letter a refused row at once instead of leaving its batch to the relays', async () => {
    // A topic of its own: the first test raised its topic's limit.
    const eagerTopic = `${ctx.topicPrefix}outbox.dead-eager`;
    const admin = openAdmin(kafka, 'outbox-dead-letters-admin-2');
    await admin.connect();
    ctx.defer(() => admin.disconnect());
    await createTopicsAndWait(admin, [{ topic: eagerTopic, numPartitions: 1 }]);
    const registry = new Registry();
    const eager = new EagerOutboxPublisher(pool, kafka, ctx.logger.child({}, { level: 'error' }), registry, 900_000);
    ctx.defer(() => eager.close());
    const read = await readTopics(kafka, [eagerTopic], ctx.group('eager-reader'));
    ctx.defer(() => read.stop());
    const before = (await count('outbox_dead_letters')) ?? 0;
    // A grace far beyond the test: only the eager publisher can move these rows.
    const rows = await inTransaction(pool, (client) =>
      insertOutboxRows(
        client,
        [row('e', 'e1', eagerTopic), row('e', OVERSIZED, eagerTopic), row('e', 'e2', eagerTopic)],
        {
          publishAfterMs: 600_000,
        },
      ),
    );
    eager.publish(rows);
    await eager.close();
    assert.equal(await count('outbox'), 0);
    assert.equal(await count('outbox_dead_letters'), before + 1);
    const { rows: dead } = await pool.query<{ id: string; dead_by: string }>(
      'SELECT id, dead_by FROM outbox_dead_letters WHERE message_key = $1',
      ['e'],
    );
    assert.deepEqual(dead, [{ id: rows[1]?.id, dead_by: 'eager' }]);
    await read.until((m) => m.filter((x) => x.key === 'e').length >= 2, 20_000);
    assert.deepEqual(
      read.messages.filter((m) => m.key === 'e').map((m) => m.value.toString()),
      ['e1', 'e2'],
    );
    const metrics = await registry.metrics();
    assert.match(metrics, /^outbox_eager_published_total 2$/m);
    assert.match(metrics, /^outbox_eager_dead_lettered_total\{topic="[^"]+outbox\.dead-eager"\} 1$/m);
  });
});
