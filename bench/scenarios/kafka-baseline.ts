import type { Message, ProducerRecord } from 'kafkajs';
import {
  createTopicsAndWait,
  openAdmin,
  openConsumer,
  openProducer,
  topicConfigEntries,
  type TopicSpec,
} from '#libs/kafka';
import { TRANSACTION_RETRY } from '#apps/coordinator/src/run-partitions.js';
import type { MessageSet } from '../support/messages.js';
import { progress } from '../support/progress.js';
import { throwIfInterrupted, type Resources } from '../support/resources.js';
import { waitUntilWritable, type Sandbox } from '../support/sandbox.js';
import { percentile, sortedCopy } from '../support/stats.js';

/** How a round trip's message is sent: a plain send, or a whole transaction. */
type Sender = (record: ProducerRecord) => Promise<unknown>;

export interface BaselineRun {
  /** From the first send to the last message consumed. */
  readonly produceConsumePerSecond: number;
  /** From the first send to the last send acknowledged. */
  readonly producePerSecond: number;
}

/**
 * Scenario 5: what kafkajs alone moves on this broker, as the relay would if Postgres cost nothing. A fresh topic shaped
 * like patch.created (partitions, compression), an idempotent producer sending `batchSize` messages per sendBatch one
 * call at a time (acks from all replicas, one request in flight: the relay's producer settings), and a fresh consumer
 * group (eachBatch) that joined before the first send.
 */
export async function measureBaseline(
  sandbox: Sandbox,
  messages: MessageSet,
  count: number,
  batchSize: number,
  resources: Resources,
): Promise<BaselineRun> {
  const shape = sandbox.topic('patch.created');
  const topic = `${sandbox.topicPrefix}bench.baseline`;
  await createTopicLike(sandbox, shape, topic);

  const batches: Message[][] = [];
  for (let start = 0; start < count; start += batchSize) {
    const batch: Message[] = [];
    for (let i = start; i < Math.min(count, start + batchSize); i++) {
      batch.push({ key: messages.key(i), value: messages.payload(i) });
    }
    batches.push(batch);
  }

  const consumer = openConsumer(sandbox.kafka, { groupId: sandbox.group('baseline'), maxWaitTimeInMs: 100 });
  resources.defer('baseline consumer', () => consumer.disconnect());
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  // The probes count too: the consumer reads the topic from its beginning.
  const expected = count + shape.partitions;
  let consumed = 0;
  let allConsumed: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (allConsumed = resolve));
  await consumer.run({
    eachBatch: async ({ batch }) => {
      consumed += batch.messages.length;
      if (consumed >= expected) allConsumed();
      await Promise.resolve();
    },
  });
  await joined;

  const producer = openProducer(sandbox.kafka, 'bench-baseline', { idempotent: true, maxInFlightRequests: 1 });
  resources.defer('baseline producer', () => producer.disconnect());
  await producer.connect();

  const started = performance.now();
  for (const batch of batches) await producer.sendBatch({ topicMessages: [{ topic, messages: batch }], acks: -1 });
  const produced = performance.now();
  await done;
  const finished = performance.now();
  const result: BaselineRun = {
    produceConsumePerSecond: count / ((finished - started) / 1000),
    producePerSecond: count / ((produced - started) / 1000),
  };
  progress(
    `kafka baseline: ${count} messages, produce ${result.producePerSecond.toFixed(0)} msgs/s, ` +
      `produce+consume ${result.produceConsumePerSecond.toFixed(0)} msgs/s`,
  );
  return result;
}

/** Creates `topic` with the partitions, replication and configuration of `shape`, and waits until it takes writes. */
export async function createTopicLike(sandbox: Sandbox, shape: TopicSpec, topic: string): Promise<void> {
  throwIfInterrupted();
  const admin = openAdmin(sandbox.kafka, 'bench-baseline-admin');
  await admin.connect();
  try {
    await createTopicsAndWait(admin, [
      {
        topic,
        numPartitions: shape.partitions,
        replicationFactor: shape.replicationFactor,
        configEntries: Object.entries(topicConfigEntries(shape)).map(([name, value]) => ({ name, value })),
      },
    ]);
  } finally {
    await admin.disconnect();
  }
  await waitUntilWritable(sandbox.kafka, topic, shape.partitions);
}

export interface RoundTripRun {
  /** One message at a time: send (acks from all replicas) until a consumer of another group has it. */
  readonly roundTripP50Ms: number;
  readonly roundTripP99Ms: number;
  /** Of which the produce acknowledgement. */
  readonly produceP50Ms: number;
  /**
   * A coordinator step's Kafka part, one at a time: a transaction (the coordinator's producer settings) of one message,
   * from its beginning to the commit acknowledged, and to the read-committed consumer having the message.
   */
  readonly transactionP50Ms: number;
  readonly transactionRoundTripP50Ms: number;
  readonly transactionRoundTripP99Ms: number;
  /** Requests the transactional producer sent per transaction (FindCoordinator, AddPartitionsToTxn, Produce, EndTxn). */
  readonly requestsPerTransaction: number;
  /** `window` messages in flight, each sent alone and awaited until consumed: messages per second. */
  readonly pipelinedPerSecond: number;
  readonly pipelinedP50Ms: number;
  readonly pipelinedP99Ms: number;
}

export interface RoundTripOptions {
  /** Messages sent one at a time. */
  readonly sequential: number;
  /** Messages sent with `window` in flight. */
  readonly pipelined: number;
  readonly window: number;
  /** The consumer's fetch wait, as the platform's consumers use (COORDINATOR_MAX_WAIT_MS / WORKER_MAX_WAIT_MS). */
  readonly maxWaitMs: number;
}

/**
 * What one hop of a run costs Kafka alone: a fresh topic shaped like node.completed, a consumer (eachBatch, fetch wait
 * as the platform's) of a fresh group that joined before the first send, and a producer sending one message per
 * send() with acks from all replicas. First `sequential` messages one at a time (the round trip a run's hop can at
 * best take), then `pipelined` messages by `window` independent senders, each sending its next message once its last
 * one arrived. The sequential producer is the worker's (idempotent, one request in flight); the pipelined one has no
 * in-flight limit, so the window's messages really are in flight together.
 */
export async function measureRoundTrip(
  sandbox: Sandbox,
  messages: MessageSet,
  options: RoundTripOptions,
  resources: Resources,
): Promise<RoundTripRun> {
  const shape = sandbox.topic('node.completed');
  const topic = `${sandbox.topicPrefix}bench.roundtrip`;
  await createTopicLike(sandbox, shape, topic);

  const waiting = new Map<number, () => void>();
  const consumer = openConsumer(sandbox.kafka, {
    groupId: sandbox.group('roundtrip'),
    maxWaitTimeInMs: options.maxWaitMs,
    minBytes: 1,
  });
  resources.defer('round-trip consumer', () => consumer.disconnect());
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.run({
    partitionsConsumedConcurrently: shape.partitions,
    eachBatch: async ({ batch }) => {
      for (const message of batch.messages) {
        const id = Number(message.headers?.['bench-id']?.toString());
        waiting.get(id)?.();
        waiting.delete(id);
      }
      await Promise.resolve();
    },
  });
  await joined;

  const sequentialProducer = openProducer(sandbox.kafka, 'bench-roundtrip', {
    idempotent: true,
    maxInFlightRequests: 1,
  });
  resources.defer('round-trip producer', () => sequentialProducer.disconnect());
  const pipelinedProducer = openProducer(sandbox.kafka, 'bench-roundtrip-pipelined');
  resources.defer('round-trip pipelined producer', () => pipelinedProducer.disconnect());
  await Promise.all([sequentialProducer.connect(), pipelinedProducer.connect()]);

  let nextId = 0;
  /** Sends one message with `send` (a plain send, or a transaction) and waits until the consumer has it. */
  const roundTrip = async (send: Sender) => {
    const id = nextId++;
    const arrived = new Promise<void>((resolve) => waiting.set(id, resolve));
    const started = performance.now();
    await send({
      topic,
      acks: -1,
      messages: [{ key: messages.key(id), value: messages.payload(id), headers: { 'bench-id': String(id) } }],
    });
    const acked = performance.now();
    await arrived;
    return { total: performance.now() - started, produce: acked - started };
  };

  // A few unmeasured messages first: connections to the partition leaders, metadata, the first fetches.
  const sendSequential: Sender = (record) => sequentialProducer.send(record);
  for (let i = 0; i < 20; i++) await roundTrip(sendSequential);
  const sequential: number[] = [];
  const produce: number[] = [];
  for (let i = 0; i < options.sequential; i++) {
    const { total, produce: acked } = await roundTrip(sendSequential);
    sequential.push(total);
    produce.push(acked);
  }

  const transactions = await measureTransactions(sandbox, roundTrip, Math.min(options.sequential, 300), resources);

  const pipelined: number[] = [];
  let sent = 0;
  const lane = async () => {
    while (sent < options.pipelined) {
      sent++;
      pipelined.push((await roundTrip((record) => pipelinedProducer.send(record))).total);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: options.window }, lane));
  const elapsedMs = performance.now() - started;

  const sequentialSorted = sortedCopy(sequential);
  const pipelinedSorted = sortedCopy(pipelined);
  const result: RoundTripRun = {
    roundTripP50Ms: percentile(sequentialSorted, 0.5),
    roundTripP99Ms: percentile(sequentialSorted, 0.99),
    produceP50Ms: percentile(sortedCopy(produce), 0.5),
    ...transactions,
    pipelinedPerSecond: pipelined.length / (elapsedMs / 1000),
    pipelinedP50Ms: percentile(pipelinedSorted, 0.5),
    pipelinedP99Ms: percentile(pipelinedSorted, 0.99),
  };
  progress(
    `kafka round trip: one at a time p50 ${result.roundTripP50Ms.toFixed(2)} ms p99 ${result.roundTripP99Ms.toFixed(2)} ms ` +
      `(produce p50 ${result.produceP50Ms.toFixed(2)} ms); a transaction p50 ${result.transactionP50Ms.toFixed(2)} ms, ` +
      `consumed p50 ${result.transactionRoundTripP50Ms.toFixed(2)} ms, ` +
      `${result.requestsPerTransaction.toFixed(1)} requests each; ${options.window} in flight ` +
      `${result.pipelinedPerSecond.toFixed(0)} msgs/s, p50 ${result.pipelinedP50Ms.toFixed(2)} ms p99 ` +
      `${result.pipelinedP99Ms.toFixed(2)} ms`,
  );
  return result;
}

type TransactionFigures = Pick<
  RoundTripRun,
  'transactionP50Ms' | 'transactionRoundTripP50Ms' | 'transactionRoundTripP99Ms' | 'requestsPerTransaction'
>;

/** `count` one-message transactions one at a time through `roundTrip`, as a coordinator step at idle. */
async function measureTransactions(
  sandbox: Sandbox,
  roundTrip: (send: Sender) => Promise<{ total: number; produce: number }>,
  count: number,
  resources: Resources,
): Promise<TransactionFigures> {
  const producer = openProducer(sandbox.kafka, 'bench-roundtrip-transactional', {
    transactionalId: `${sandbox.topicPrefix}bench-roundtrip`,
    idempotent: true,
    maxInFlightRequests: 1,
    retry: TRANSACTION_RETRY,
  });
  resources.defer('round-trip transactional producer', () => producer.disconnect());
  let requests = 0;
  producer.on(producer.events.REQUEST, () => requests++);
  await producer.connect();
  const inTransaction: Sender = async (record) => {
    const transaction = await producer.transaction();
    await transaction.send(record);
    await transaction.commit();
  };
  for (let i = 0; i < 20; i++) await roundTrip(inTransaction);
  requests = 0;
  const commits: number[] = [];
  const totals: number[] = [];
  for (let i = 0; i < count; i++) {
    const { produce, total } = await roundTrip(inTransaction);
    commits.push(produce);
    totals.push(total);
  }
  const sortedTotals = sortedCopy(totals);
  return {
    transactionP50Ms: percentile(sortedCopy(commits), 0.5),
    transactionRoundTripP50Ms: percentile(sortedTotals, 0.5),
    transactionRoundTripP99Ms: percentile(sortedTotals, 0.99),
    requestsPerTransaction: requests / count,
  };
}
