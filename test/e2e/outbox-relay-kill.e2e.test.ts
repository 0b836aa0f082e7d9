import assert from 'node:assert/strict';
import { describe, it, type TestContext as NodeTestContext } from 'node:test';
import { createPool, inTransaction } from '#libs/db';
import { createKafka, openAdmin, createTopicsAndWait } from '#libs/kafka';
import { insertOutboxRows, type OutboxRow } from '#libs/outbox';
import { useTestContext } from '#test/harness/test-context.js';
import { freePort, startProcess, waitForHttpOk, type RunningProcess } from '#test/support/processes.js';
import { readTopics, type ReadMessage } from '#test/support/topic-reader.js';

const ctx = useTestContext('outbox-relay-kill');

const KEYS = 100;
const WRITERS = 2;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Per key, the order in which each sequence number was first seen; duplicates (allowed after a crash: the relay is
 * at least once) are counted, not kept.
 */
function firstOccurrences(messages: readonly ReadMessage[]): { byKey: Map<string, number[]>; duplicates: number } {
  const byKey = new Map<string, number[]>();
  const seen = new Set<string>();
  let duplicates = 0;
  for (const m of messages) {
    const id = `${m.key}:${m.headers.seq}`;
    if (seen.has(id)) {
      duplicates++;
      continue;
    }
    seen.add(id);
    const list = byKey.get(m.key) ?? [];
    list.push(Number(m.headers.seq));
    byKey.set(m.key, list);
  }
  return { byKey, duplicates };
}

describe('the outbox relay process, killed with SIGKILL in the middle of a load', () => {
  it('loses no row and keeps each key in order (first occurrences) after a restart', async (t: NodeTestContext) => {
    const kafka = createKafka({ brokers: ctx.config.KAFKA_BROKERS, clientId: ctx.id, logger: ctx.logger });
    const topic = `${ctx.topicPrefix}outbox.kill`;
    const admin = openAdmin(kafka, 'outbox-kill-admin');
    await admin.connect();
    ctx.defer(() => admin.disconnect());
    await createTopicsAndWait(admin, [{ topic, numPartitions: 6 }]);
    const pool = createPool(ctx.databaseUrl, { name: 'outbox-kill-writers', max: WRITERS + 2 });
    ctx.defer(() => pool.end());

    const startRelay = async (): Promise<{ proc: RunningProcess; url: string }> => {
      const port = await freePort();
      const proc = startProcess(process.execPath, ['dist/apps/outbox-relay/src/main.js'], {
        ...process.env,
        PORT: String(port),
        DATABASE_URL: ctx.databaseUrl,
        KAFKA_TOPIC_PREFIX: ctx.topicPrefix,
        KAFKA_CLIENT_ID: `test-${ctx.id}`,
        LOG_LEVEL: 'warn',
      });
      ctx.defer(() => proc.stop('SIGKILL'));
      const url = `http://127.0.0.1:${port}`;
      await waitForHttpOk(`${url}/health`, proc, 30_000);
      return { proc, url };
    };
    const outboxCount = async () =>
      (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox')).rows[0]?.n ?? -1;

    // Writers: each owns KEYS / WRITERS keys and keeps inserting small transactions of a few keys' next events.
    const nextSeq = new Map<string, number>();
    let writing = true;
    let written = 0;
    const writer = async (w: number) => {
      const keys = Array.from({ length: KEYS }, (_, k) => `key-${k}`).filter((_, k) => k % WRITERS === w);
      while (writing) {
        const picked = keys.filter(() => Math.random() < 0.2);
        const rows: OutboxRow[] = picked.map((key) => {
          const seq = (nextSeq.get(key) ?? 0) + 1;
          nextSeq.set(key, seq);
          return {
            topic,
            key,
            eventType: 'test',
            payload: Buffer.from(`${key}:${seq}`),
            headers: { seq: String(seq) },
          };
        });
        await inTransaction(pool, (client) => insertOutboxRows(client, rows));
        written += rows.length;
        await sleep(2);
      }
    };

    /** Polls until `probe` holds (conditions, not fixed sleeps, decide when each phase has happened). */
    const until = async (probe: () => Promise<boolean>, what: string) => {
      const deadline = Date.now() + 20_000;
      while (!(await probe())) {
        if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
        await sleep(20);
      }
    };
    const published = async () => (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);

    const first = await startRelay();
    const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));
    // The first relay is killed in the middle of its work: it has published rows and more keep coming.
    await until(async () => (await published()) >= 200, 'the first relay published 200 rows');
    const beforeKill = written;
    assert.equal(await first.proc.stop('SIGKILL'), null, 'killed by the signal');
    const backlogAtKill = await outboxCount();
    // With no relay running the backlog grows: the second relay starts with rows the first never took.
    await until(async () => (await outboxCount()) > backlogAtKill, 'rows piled up with no relay');
    const second = await startRelay();
    const publishedAtRestart = await published();
    await until(async () => (await published()) > publishedAtRestart, 'the second relay published');
    writing = false;
    await Promise.all(writers);
    const expected = [...nextSeq.values()].reduce((a, b) => a + b, 0);

    const drainStarted = Date.now();
    while ((await outboxCount()) !== 0) {
      if (Date.now() - drainStarted > 20_000) assert.fail(`outbox not drained: ${await outboxCount()} rows left`);
      await sleep(50);
    }
    const reader = await readTopics(kafka, [topic], ctx.group('kill-reader'));
    ctx.defer(() => reader.stop());
    // Everything on the topic (duplicates included) is read: the outbox is empty, so nothing more can arrive.
    const end = await published();
    await reader.until((messages) => messages.length >= end, 30_000);
    assert.equal(
      new Set(reader.messages.map((m) => m.value.toString())).size,
      expected,
      'every committed row reached the topic, and nothing else',
    );

    const { byKey, duplicates } = firstOccurrences(reader.messages);
    for (const [key, last] of nextSeq) {
      assert.deepEqual(
        byKey.get(key),
        Array.from({ length: last }, (_, i) => i + 1),
        `${key}: every event, first occurrences in order`,
      );
    }
    t.diagnostic(
      `${expected} rows written (${beforeKill} before the kill, ${backlogAtKill} still in the outbox at the kill); ` +
        `${reader.messages.length} messages on the topic, ${duplicates} duplicates`,
    );

    const metrics = await (await fetch(`${second.url}/metrics`)).text();
    assert.match(metrics, /^outbox_relay_owned_lanes(\{[^}]*\})? 64$/m, 'the restarted relay owns every lane');
    assert.match(metrics, /^outbox_published_total(\{[^}]*\})? [1-9]\d*$/m);
    assert.equal(await second.proc.stop('SIGTERM'), 0, second.proc.output());
  });
});
