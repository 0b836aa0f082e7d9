import assert from 'node:assert/strict';
import { afterEach, before, describe, it, type TestContext as NodeTestContext } from 'node:test';
import { Registry } from 'prom-client';
import { createPool, inTransaction } from '#libs/db';
import { createKafka, openAdmin, createTopicsAndWait } from '#libs/kafka';
import { useTestContext } from '#test/harness/test-context.js';
import { readTopics } from '#test/support/topic-reader.js';
import { OutboxRelayMetrics } from './outbox-relay-metrics.js';
import { OutboxRelay, type OutboxRelayOptions } from './outbox-relay.js';
import { insertOutboxRows, type OutboxRow } from './outbox-writer.js';

const ctx = useTestContext('outbox-relay');

describe('the outbox relay', () => {
  const kafka = createKafka({ brokers: ctx.config.KAFKA_BROKERS, clientId: ctx.id, logger: ctx.logger });
  const pool = createPool(ctx.databaseUrl, { name: 'outbox-relay-test' });
  ctx.defer(() => pool.end());
  const admin = openAdmin(kafka, 'outbox-relay-test-admin');
  before(() => admin.connect());
  ctx.defer(() => admin.disconnect());
  const topic = `${ctx.topicPrefix}outbox.relay`;
  let readers = 0;

  /** The relays a test started: stopped after it even when it fails, or they would hold lanes the next one needs. */
  const running: OutboxRelay[] = [];
  afterEach(() => Promise.all(running.splice(0).map((relay) => relay.stop())));
  const startRelay = (options: Partial<OutboxRelayOptions> = {}, metrics?: OutboxRelayMetrics) => {
    const relay = new OutboxRelay({ databaseUrl: ctx.databaseUrl, kafka, logger: ctx.logger, metrics }, options);
    relay.start();
    running.push(relay);
    return relay;
  };
  const reader = async (topics = [topic]) => {
    const r = await readTopics(kafka, topics, ctx.group(`reader-${++readers}`));
    ctx.defer(() => r.stop());
    return r;
  };
  const event = (key: string, text: string, headers: Record<string, string> = {}): OutboxRow => ({
    topic,
    key,
    eventType: 'test',
    payload: Buffer.from(text),
    headers,
  });
  const outboxCount = async () => (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox')).rows[0]?.n;
  const until = async (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };

  it('publishes committed rows with their exact bytes and headers, then deletes them', async () => {
    await createTopicsAndWait(admin, [{ topic, numPartitions: 3 }]);

    const registry = new Registry();
    const relay = startRelay({}, new OutboxRelayMetrics(registry, pool));
    const confluentFramed = Buffer.from([0x00, 0x00, 0x00, 0x00, 0x2a, 0x02, 0xff, 0x00, 0x80]);
    await inTransaction(pool, (client) =>
      insertOutboxRows(client, [
        {
          topic,
          key: 'wf-1',
          eventType: 'patch.created',
          payload: confluentFramed,
          headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', seq: '1' },
        },
        event('wf-1', 'second', { seq: '2' }),
        event('wf-2', 'other key'),
      ]),
    );

    const read = await reader();
    await read.until((m) => m.length >= 3, 15_000);
    const [first, second, third] = read.messages.sort(
      (a, b) => a.key.localeCompare(b.key) || a.offset.localeCompare(b.offset),
    );
    assert.deepEqual(first?.value, confluentFramed, 'payload bytes untouched');
    assert.deepEqual(first?.headers, {
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      seq: '1',
    });
    assert.equal(first?.key, 'wf-1');
    assert.equal(second?.value.toString(), 'second');
    assert.equal(first?.partition, second?.partition, 'one key, one partition');
    assert.equal(third?.key, 'wf-2');
    assert.deepEqual(third?.headers, {});
    await until('outbox empty', async () => (await outboxCount()) === 0);
    assert.equal(relay.published, 3);

    const metrics = await registry.metrics();
    assert.match(metrics, /^outbox_published_total 3$/m);
    assert.match(metrics, /^outbox_relay_owned_lanes 64$/m);
    assert.match(metrics, /^outbox_backlog_rows 0$/m);
    assert.match(metrics, /^outbox_oldest_row_age_seconds 0$/m);
    assert.match(metrics, /^outbox_publish_batch_size_count [1-3]$/m);
    assert.match(metrics, /^outbox_publish_duration_seconds_count [1-3]$/m);
    await relay.stop();
  });

  it('never publishes rows of a transaction that is still open or was rolled back', async () => {
    const read = await reader();
    const relay = startRelay();
    const open = await pool.connect();
    ctx.defer(() => open.release());
    await open.query('BEGIN');
    await insertOutboxRows(open, [event('k-open', 'uncommitted')]);
    const rolledBack = await pool.connect();
    try {
      await rolledBack.query('BEGIN');
      await insertOutboxRows(rolledBack, [event('k-rolled-back', 'rolled back')]);
      await rolledBack.query('ROLLBACK');
    } finally {
      rolledBack.release();
    }
    await inTransaction(pool, (client) => insertOutboxRows(client, [event('k-marker', 'committed after them')]));

    await read.until((m) => m.some((x) => x.key === 'k-marker'), 15_000);
    // The marker was committed last. A second one, committed once the first was read, is published by a later claim;
    // once the reader has also read the topic up to its end offsets, whatever the relay published before that is in.
    await inTransaction(pool, (client) => insertOutboxRows(client, [event('k-marker-2', 'committed after it')]));
    await read.until((m) => m.some((x) => x.key === 'k-marker-2'), 15_000);
    await read.readTo(topic, await admin.fetchTopicOffsets(topic), 15_000);
    assert.deepEqual(
      read.messages.filter((m) => m.key.startsWith('k-')).map((m) => m.key),
      ['k-marker', 'k-marker-2'],
    );
    assert.equal(await outboxCount(), 0, "the open transaction's row is invisible to everyone else");
    await open.query('ROLLBACK');
    await relay.stop();
  });

  it('wakes on NOTIFY well before its poll interval', async (t: NodeTestContext) => {
    const relay = startRelay({ pollIntervalMs: 30_000 });
    await until('relay owns every lane', () => relay.lanes.size === 64);
    // The claims owed to the start (a new session, lanes acquired) come right after the lanes are locked: once a row
    // committed now has been published, by one of them or on its NOTIFY, none is left, so only a notification can
    // explain a quick publish.
    await inTransaction(pool, (client) => insertOutboxRows(client, [event('notify-warm-up', 'after the start')]));
    await until(
      'warm-up row published (by a claim owed to the start or on its NOTIFY)',
      async () => (await outboxCount()) === 0 && relay.published === 1,
    );
    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      await inTransaction(pool, (client) => insertOutboxRows(client, [event(`notify-${i}`, 'wake up')]));
      await until('row published', async () => (await outboxCount()) === 0, 5_000);
      latencies.push(performance.now() - started);
    }
    const worst = Math.max(...latencies);
    t.diagnostic(`commit-to-deleted latencies: ${latencies.map((ms) => Math.round(ms)).join(', ')} ms`);
    assert.ok(worst < 1_000, `published within ${Math.round(worst)} ms, the poll interval being 30 s`);
    // The relay counts a row after its delete committed, a moment after the test can see it gone.
    await until('the relay counted them', () => relay.published >= 6, 5_000);
    assert.equal(relay.published, 6, 'the warm-up row and the five');
    await relay.stop();
  });

  it('shares the lanes between two relays, and one takes them all when the other stops', async () => {
    const a = startRelay();
    const b = startRelay();
    await until('32 lanes each', () => a.lanes.size === 32 && b.lanes.size === 32);
    const union = new Set([...a.lanes, ...b.lanes]);
    assert.equal(union.size, 64, 'disjoint, and together every lane');

    const rows = Array.from({ length: 200 }, (_, i) => event(`split-${i}`, String(i)));
    await inTransaction(pool, (client) => insertOutboxRows(client, rows));
    await until('outbox empty', async () => (await outboxCount()) === 0);
    // A relay counts a row after its delete committed, a moment after the test can see it gone.
    await until('the relays counted them', () => a.published + b.published === rows.length, 5_000);
    assert.ok(a.published > 0 && b.published > 0, `both published (${a.published} and ${b.published})`);

    await b.stop();
    await until('a owns all 64 lanes', () => a.lanes.size === 64, 5_000);
    await inTransaction(pool, (client) => insertOutboxRows(client, [event('after-stop', 'x')]));
    await until('outbox empty', async () => (await outboxCount()) === 0);
    await a.stop();
  });

  it('reconnects after its Postgres connection is killed and takes its lanes back', async () => {
    const relay = startRelay({ retryInitialMs: 50, retryMaxMs: 200 });
    await until('relay owns every lane', () => relay.lanes.size === 64);
    const { rows } = await pool.query<{ killed: boolean }>(
      'SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = $1',
      [relay.relayId],
    );
    assert.deepEqual(
      rows.map((r) => r.killed),
      [true],
    );
    await inTransaction(pool, (client) => insertOutboxRows(client, [event('after-kill', 'still delivered')]));
    await until('outbox empty', async () => (await outboxCount()) === 0);
    await until('relay owns every lane again', () => relay.lanes.size === 64);
    await relay.stop();
  });

  it('rolls a failed publish back and retries it until Kafka takes it', async () => {
    const missing = `${ctx.topicPrefix}outbox.created-late`;
    const registry = new Registry();
    const metrics = new OutboxRelayMetrics(registry, pool);
    const relay = startRelay({ sendRetries: 1, retryInitialMs: 100, retryMaxMs: 300 }, metrics);
    await inTransaction(pool, (client) =>
      insertOutboxRows(client, [{ topic: missing, key: 'late', eventType: 'test', payload: Buffer.from('late') }]),
    );
    await until('a failed publish', async () => ((await metrics.publishFailures.get()).values[0]?.value ?? 0) > 0);
    assert.equal(await outboxCount(), 1, 'the row stays in the outbox while Kafka refuses it');

    await createTopicsAndWait(admin, [{ topic: missing, numPartitions: 1 }]);
    await until('outbox empty', async () => (await outboxCount()) === 0, 20_000);
    const read = await reader([missing]);
    await read.until((m) => m.length === 1, 15_000);
    assert.equal(read.messages[0]?.value.toString(), 'late');
    assert.equal(relay.published, 1);
    await relay.stop();
  });
});
