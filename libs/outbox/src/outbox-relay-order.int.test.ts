import assert from 'node:assert/strict';
import { describe, it, type TestContext as NodeTestContext } from 'node:test';
import { createPool, inTransaction } from '#libs/db';
import { createKafka, openAdmin, createTopicsAndWait } from '#libs/kafka';
import { useTestContext } from '#test/harness/test-context.js';
import { readTopics, type ReadMessage, type TopicReader } from '#test/support/topic-reader.js';
import { LANE_COUNT } from './lanes.js';
import { OutboxRelay, type OutboxRelayOptions } from './outbox-relay.js';
import { insertOutboxRows, type OutboxRow } from './outbox-writer.js';

const ctx = useTestContext('outbox-relay-order');

const KEYS = 200;
const EVENTS_PER_KEY = 50;
const WRITERS = 8;
/** Events of one key that one writer transaction inserts (so a transaction spans many keys and several events each). */
const EVENTS_PER_TX = 5;

/**
 * Per key, the sequence numbers in the order they were read (offset order: one key lives in one partition).
 * Payloads carry "key:seq"; the seq header must agree with it.
 */
function sequencesByKey(messages: readonly ReadMessage[]): Map<string, number[]> {
  const byKey = new Map<string, number[]>();
  for (const m of messages) {
    const [key, seq] = m.value.toString().split(':');
    assert.equal(key, m.key);
    assert.equal(m.headers.seq, seq);
    const list = byKey.get(m.key) ?? [];
    list.push(Number(seq));
    byKey.set(m.key, list);
  }
  return byKey;
}

describe('several relays at once keep per-key order on Kafka', () => {
  const kafka = createKafka({ brokers: ctx.config.KAFKA_BROKERS, clientId: ctx.id, logger: ctx.logger });
  const pool = createPool(ctx.databaseUrl, { name: 'outbox-order-writers', max: WRITERS + 2 });
  ctx.defer(() => pool.end());
  let topics = 0;

  const createTopic = async (): Promise<string> => {
    const topic = `${ctx.topicPrefix}outbox.order.${++topics}`;
    const admin = openAdmin(kafka, 'outbox-order-admin');
    await admin.connect();
    try {
      await createTopicsAndWait(admin, [{ topic, numPartitions: 6 }]);
    } finally {
      await admin.disconnect();
    }
    return topic;
  };

  const startRelay = (options: Partial<OutboxRelayOptions> = {}) => {
    // Small batches so the relays take many turns and interleave on the broker.
    const relay = new OutboxRelay(
      { databaseUrl: ctx.databaseUrl, kafka, logger: ctx.logger },
      { batchSize: 100, ...options },
    );
    relay.start();
    ctx.defer(() => relay.stop());
    return relay;
  };

  const until = async (what: string, check: () => boolean | Promise<boolean>, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };

  const balanced = (relays: readonly OutboxRelay[]) => {
    const owned = relays.map((r) => r.lanes.size);
    return owned.every((n) => n > 0) && owned.reduce((a, b) => a + b, 0) === LANE_COUNT;
  };

  /**
   * WRITERS concurrent writers; writer w owns the keys k with k % WRITERS === w and writes them in rounds: each
   * transaction inserts the next EVENTS_PER_TX events of every key it owns, keys shuffled, and lingers a little before
   * committing so that transactions commit out of id order. A key's events are written by one writer in order, as the
   * domain does by locking the row that hands out sequence numbers.
   */
  const writeAll = async (topic: string, onRound?: (round: number) => Promise<void>) => {
    const rounds = EVENTS_PER_KEY / EVENTS_PER_TX;
    const writer = async (w: number) => {
      const keys = Array.from({ length: KEYS }, (_, k) => k).filter((k) => k % WRITERS === w);
      for (let round = 0; round < rounds; round++) {
        const shuffled = [...keys].sort(() => Math.random() - 0.5);
        const rows: OutboxRow[] = shuffled.flatMap((k) =>
          Array.from({ length: EVENTS_PER_TX }, (_, i) => {
            const seq = round * EVENTS_PER_TX + i + 1;
            return {
              topic,
              key: `key-${k}`,
              eventType: 'test',
              payload: Buffer.from(`key-${k}:${seq}`),
              headers: { seq: String(seq) },
            };
          }),
        );
        await inTransaction(pool, async (client) => {
          await insertOutboxRows(client, rows);
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 20));
        });
        if (w === 0) await onRound?.(round);
      }
    };
    await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
  };

  const outboxCount = async () => (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox')).rows[0]?.n;

  const assertEveryKeyInOrder = (messages: readonly ReadMessage[]) => {
    const byKey = sequencesByKey(messages);
    assert.equal(byKey.size, KEYS);
    const expected = Array.from({ length: EVENTS_PER_KEY }, (_, i) => i + 1);
    for (const [key, seqs] of byKey) assert.deepEqual(seqs, expected, `sequence of ${key}`);
    assert.equal(messages.length, KEYS * EVENTS_PER_KEY, 'no duplicates');
  };

  it(`three relays, ${KEYS} keys x ${EVENTS_PER_KEY} events from ${WRITERS} concurrent writers: every key 1..${EVENTS_PER_KEY} in order`, async (t: NodeTestContext) => {
    const topic = await createTopic();
    const relays = [startRelay(), startRelay(), startRelay()];
    await until('three relays share the 64 lanes', () => balanced(relays), 10_000);
    t.diagnostic(`lanes per relay: ${relays.map((r) => r.lanes.size).join(', ')}`);

    const started = performance.now();
    await writeAll(topic);
    const written = performance.now();
    await until('outbox drained', async () => (await outboxCount()) === 0, 60_000);
    const drained = performance.now();
    const total = KEYS * EVENTS_PER_KEY;
    t.diagnostic(
      `${total} rows written in ${Math.round(written - started)} ms, all published ${Math.round(drained - started)} ms ` +
        `after the first write: ${Math.round(total / ((drained - started) / 1000))} rows/s end to end ` +
        `(per relay: ${relays.map((r) => r.published).join(', ')})`,
    );

    const reader = await readTopics(kafka, [topic], ctx.group('order-reader-1'));
    ctx.defer(() => reader.stop());
    await reader.until((m) => m.length >= total, 60_000);
    await readToEnd(reader, topic);
    assertEveryKeyInOrder(reader.messages);
    for (const relay of relays) assert.ok(relay.published > 0, `relay ${relay.relayId} published something`);
    assert.equal(
      relays.reduce((sum, r) => sum + r.published, 0),
      total,
    );
    await Promise.all(relays.map((r) => r.stop()));
  });

  /**
   * Waits until the reader has everything on the topic, duplicates included. Called once the outbox is drained, when
   * nothing more can be published: no quiet period has to stand in for "nothing more arrives".
   */
  const readToEnd = async (reader: TopicReader, topic: string) => {
    const admin = openAdmin(kafka, 'outbox-order-offsets');
    await admin.connect();
    try {
      const end = (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
      await reader.until((m) => m.length >= end, 30_000);
    } finally {
      await admin.disconnect();
    }
  };

  it('keeps every key in order while lanes change hands mid-load (a relay leaves, another joins)', async () => {
    const topic = await createTopic();
    const relays = [startRelay(), startRelay(), startRelay()];
    await until('three relays share the 64 lanes', () => balanced(relays), 10_000);
    const rounds = EVENTS_PER_KEY / EVENTS_PER_TX;
    await writeAll(topic, async (round) => {
      if (round === Math.floor(rounds / 3)) await relays[0]?.stop();
      if (round === Math.floor((2 * rounds) / 3)) {
        const joining = startRelay();
        relays.push(joining);
        // Hold this writer until the newcomer owns lanes, so the rest of its keys are partly the newcomer's to publish.
        await until('the new relay owns lanes', () => joining.lanes.size > 0, 10_000);
      }
    });
    await until('outbox drained', async () => (await outboxCount()) === 0, 60_000);

    const reader = await readTopics(kafka, [topic], ctx.group('order-reader-2'));
    ctx.defer(() => reader.stop());
    await reader.until((m) => m.length >= KEYS * EVENTS_PER_KEY, 60_000);
    await readToEnd(reader, topic);
    assertEveryKeyInOrder(reader.messages);
    assert.equal(relays.length, 4);
    assert.ok(
      relays.every((r) => r.published > 0),
      `each relay published (${relays.map((r) => r.published).join(', ')})`,
    );
    await Promise.all(relays.map((r) => r.stop()));
  });
});
