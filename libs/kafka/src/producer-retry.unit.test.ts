import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';

/**
 * The patched kafkajs send path (patches/kafkajs+2.2.4.patch, producer/sendMessages.js) against a stand-in cluster
 * whose partition leaders move between two attempts of one send, as they do when a broker dies under load. Stock
 * kafkajs remembered which *brokers* had answered: a partition written on its old leader was sent again to its new
 * one with the next sequence number (a duplicate no broker can recognise; the replicated-cluster test found every
 * run's changelog records doubled), and a failed partition whose new leader had answered for another partition was
 * not sent at all. Each case below fails on stock kafkajs.
 */
const require = createRequire(import.meta.url);
interface Written {
  broker: string;
  partition: number;
  firstSequence: number;
  values: string[];
}
type Send = (args: {
  acks: number;
  topicMessages: { topic: string; messages: object[] }[];
}) => Promise<{ topicName: string; partition: number; baseOffset: string }[]>;
const createSendMessages = require('kafkajs/src/producer/sendMessages.js') as (options: object) => Send;
const createRetry = require('kafkajs/src/retry/index.js') as (options: object) => unknown;
const { Partitioners, KafkaJSConnectionError } = require('kafkajs') as {
  Partitioners: { DefaultPartitioner: () => unknown };
  KafkaJSConnectionError: new (message: string) => Error;
};

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const TOPIC = 't';

/** Brokers by node id; each fails its next produce when told to, else appends and answers. */
function standInCluster(leadersBefore: Record<number, number>, leadersAfter: Record<number, number>) {
  const written: Written[] = [];
  const failNext = new Set<number>();
  const slow = new Map<number, number>();
  let leaders = leadersBefore;
  const broker = (nodeId: number) => ({
    nodeId,
    produce: ({
      topicData,
    }: {
      topicData: {
        topic: string;
        partitions: { partition: number; firstSequence: number; messages: { value: string }[] }[];
      }[];
    }) => {
      if (failNext.delete(nodeId)) return Promise.reject(new KafkaJSConnectionError(`broker ${nodeId} is gone`));
      const partitions = topicData.flatMap((t) => t.partitions);
      for (const p of partitions)
        written.push({
          broker: String(nodeId),
          partition: p.partition,
          firstSequence: p.firstSequence,
          values: p.messages.map((m) => m.value),
        });
      const answer = {
        topics: [
          {
            topicName: TOPIC,
            partitions: partitions.map((p) => ({ partition: p.partition, errorCode: 0, baseOffset: '0' })),
          },
        ],
      };
      return new Promise((resolve) => setTimeout(() => resolve(answer), slow.get(nodeId) ?? 0));
    },
  });
  const brokers = new Map([1, 2, 3].map((id) => [id, broker(id)]));
  const cluster = {
    targetTopics: new Set([TOPIC]),
    addMultipleTargetTopics: async () => {},
    refreshMetadataIfNecessary: async () => {},
    // A broker died: the next metadata names the new leaders.
    refreshMetadata: () => {
      leaders = leadersAfter;
      return Promise.resolve();
    },
    isConnected: () => true,
    removeBroker: () => {},
    findTopicPartitionMetadata: () =>
      Object.entries(leaders).map(([partitionId, leader]) => ({ partitionId: Number(partitionId), leader })),
    findLeaderForPartitions: (_topic: string, partitions: string[]) => {
      const result: Record<number, number[]> = {};
      for (const id of partitions) {
        const leader = leaders[Number(id)] as number;
        (result[leader] ??= []).push(Number(id));
      }
      return result;
    },
    findBroker: ({ nodeId }: { nodeId: number }) => Promise.resolve(brokers.get(Number(nodeId))),
  };
  const sequences = new Map<string, number>();
  const eosManager = {
    isTransactional: () => false,
    acquireBrokerLock: async () => {},
    releaseBrokerLock: async () => {},
    getTransactionalId: () => undefined,
    getProducerId: () => 7,
    getProducerEpoch: () => 0,
    getSequence: (topic: string, partition: number) => sequences.get(`${topic}:${partition}`) ?? 0,
    updateSequence: (topic: string, partition: number, increment: number) =>
      sequences.set(`${topic}:${partition}`, (sequences.get(`${topic}:${partition}`) ?? 0) + increment),
  };
  const send = createSendMessages({
    logger: silent,
    cluster,
    partitioner: Partitioners.DefaultPartitioner(),
    eosManager,
    retrier: createRetry({ retries: 3, initialRetryTime: 1, maxRetryTime: 5 }),
  });
  return { send, written, failNext, slow };
}

const messages = [
  { partition: 0, value: 'a' },
  { partition: 1, value: 'b' },
];

describe('the patched kafkajs send path when partition leaders move mid-send', () => {
  it('does not send a partition again that its old leader already wrote', async () => {
    // Partition 0 on broker 1 succeeds, partition 1 on broker 2 fails; then broker 3 leads both.
    const { send, written, failNext } = standInCluster({ 0: 1, 1: 2 }, { 0: 3, 1: 3 });
    failNext.add(2);
    const answers = await send({ acks: -1, topicMessages: [{ topic: TOPIC, messages }] });
    assert.deepEqual(
      written.map((w) => `${w.partition}@${w.broker} seq ${w.firstSequence} ${w.values.join()}`),
      ['0@1 seq 0 a', '1@3 seq 0 b'],
    );
    assert.deepEqual(answers.map((a) => a.partition).sort(), [0, 1]);
  });

  it('still sends a failed partition whose new leader already answered for another', async () => {
    // Partition 1's new leader is broker 1, which wrote partition 0 in the first attempt.
    const { send, written, failNext } = standInCluster({ 0: 1, 1: 2 }, { 0: 1, 1: 1 });
    failNext.add(2);
    const answers = await send({ acks: -1, topicMessages: [{ topic: TOPIC, messages }] });
    assert.deepEqual(
      written.map((w) => `${w.partition}@${w.broker} seq ${w.firstSequence} ${w.values.join()}`),
      ['0@1 seq 0 a', '1@1 seq 0 b'],
    );
    assert.deepEqual(answers.map((a) => a.partition).sort(), [0, 1]);
  });

  it('does not retry before a slower request of the same attempt has its answer', async () => {
    // Broker 1 writes partition 0 but answers late; broker 2 fails at once. Nothing moves.
    const { send, written, failNext, slow } = standInCluster({ 0: 1, 1: 2 }, { 0: 1, 1: 2 });
    failNext.add(2);
    slow.set(1, 50);
    const answers = await send({ acks: -1, topicMessages: [{ topic: TOPIC, messages }] });
    assert.deepEqual(
      written.map((w) => `${w.partition}@${w.broker} seq ${w.firstSequence} ${w.values.join()}`),
      ['0@1 seq 0 a', '1@2 seq 0 b'],
    );
    assert.deepEqual(answers.map((a) => a.partition).sort(), [0, 1]);
  });

  it('re-sends a failed partition with the sequence number of its failed attempt', async () => {
    const { send, written, failNext } = standInCluster({ 0: 1, 1: 2 }, { 0: 1, 1: 3 });
    await send({ acks: -1, topicMessages: [{ topic: TOPIC, messages }] });
    failNext.add(2);
    await send({ acks: -1, topicMessages: [{ topic: TOPIC, messages }] });
    // The second send's partition 1 failed on broker 2 and went to broker 3 with sequence 1, not 2.
    assert.deepEqual(
      written.filter((w) => w.partition === 1).map((w) => `${w.broker} seq ${w.firstSequence}`),
      ['2 seq 0', '3 seq 1'],
    );
  });
});
