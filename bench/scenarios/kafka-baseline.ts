import type { Message } from 'kafkajs';
import { openAdmin, openConsumer, openProducer, topicConfigEntries } from '#libs/kafka';
import type { MessageSet } from '../support/messages.js';
import { progress } from '../support/progress.js';
import { throwIfInterrupted, type Resources } from '../support/resources.js';
import { waitUntilWritable, type Sandbox } from '../support/sandbox.js';

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
  throwIfInterrupted();
  const admin = openAdmin(sandbox.kafka, 'bench-baseline-admin');
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic,
          numPartitions: shape.partitions,
          replicationFactor: shape.replicationFactor,
          configEntries: Object.entries(topicConfigEntries(shape)).map(([name, value]) => ({ name, value })),
        },
      ],
    });
  } finally {
    await admin.disconnect();
  }
  await waitUntilWritable(sandbox.kafka, topic, shape.partitions);

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
