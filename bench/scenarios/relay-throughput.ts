import { Registry, type Histogram } from 'prom-client';
import { createPool, inTransaction } from '#libs/db';
import { insertOutboxRows, OutboxRelay, OutboxRelayMetrics, type OutboxRow } from '#libs/outbox';
import type { MessageSet } from '../support/messages.js';
import { benchLogger, progress } from '../support/progress.js';
import { throwIfInterrupted, type Resources } from '../support/resources.js';
import { waitUntilWritable, type Sandbox } from '../support/sandbox.js';

const ROWS_PER_TRANSACTION = 5_000;

export interface RelayRun {
  readonly rowsPerSecond: number;
  readonly batches: number;
  /** Wall time per claim-publish-delete round. */
  readonly batchMs: number;
  /** Of which waiting for Kafka's acknowledgement of the batch (the rest is Postgres and the relay's own work). */
  readonly kafkaMsPerBatch: number;
}

/**
 * Scenario 4: an outbox backlog of `rows` committed rows (the sandbox's patch.created topic, many keys), then one
 * OutboxRelay with its default options started in this process; rows/s from its start until it has published and
 * deleted them all.
 */
export async function measureRelay(
  sandbox: Sandbox,
  messages: MessageSet,
  rows: number,
  resources: Resources,
): Promise<RelayRun> {
  throwIfInterrupted();
  const pool = createPool(sandbox.databaseUrl, { name: 'bench-relay', max: 2 });
  resources.defer('relay pool', () => pool.end());
  const { name: topic, partitions } = sandbox.topic('patch.created');
  await waitUntilWritable(sandbox.kafka, topic, partitions);
  for (let start = 0; start < rows; start += ROWS_PER_TRANSACTION) {
    const chunk: OutboxRow[] = [];
    for (let i = start; i < Math.min(rows, start + ROWS_PER_TRANSACTION); i++) {
      chunk.push({ topic, key: messages.key(i), eventType: 'patch.created', payload: messages.payload(i) });
    }
    await inTransaction(pool, (client) => insertOutboxRows(client, chunk));
  }
  // Planner statistics as autovacuum would soon have them, so the claim's plan does not depend on its timing.
  await pool.query('ANALYZE outbox');

  const metrics = new OutboxRelayMetrics(new Registry(), undefined);
  const relay = new OutboxRelay({
    databaseUrl: sandbox.databaseUrl,
    kafka: sandbox.kafka,
    logger: benchLogger,
    metrics,
  });
  const started = performance.now();
  relay.start();
  resources.defer('relay', () => relay.stop());
  while (relay.published < rows) await new Promise((resolve) => setTimeout(resolve, 2));
  const elapsedMs = performance.now() - started;
  const left = (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM outbox')).rows[0]?.n;
  if (left !== 0) throw new Error(`the relay reported ${relay.published} published but ${left} rows are left`);
  const kafka = await sumAndCount(metrics.publishDuration);
  const result: RelayRun = {
    rowsPerSecond: rows / (elapsedMs / 1000),
    batches: kafka.count,
    batchMs: elapsedMs / kafka.count,
    kafkaMsPerBatch: (kafka.sum * 1000) / kafka.count,
  };
  progress(
    `relay: ${rows} rows in ${elapsedMs.toFixed(0)} ms = ${result.rowsPerSecond.toFixed(0)} rows/s ` +
      `(${result.batches} batches, ${result.batchMs.toFixed(1)} ms each, ${result.kafkaMsPerBatch.toFixed(1)} ms of it Kafka)`,
  );
  return result;
}

async function sumAndCount(histogram: Histogram): Promise<{ sum: number; count: number }> {
  const { values } = await histogram.get();
  const pick = (suffix: string) => values.find((v) => v.metricName?.endsWith(suffix))?.value ?? Number.NaN;
  return { sum: pick('_sum'), count: pick('_count') };
}
