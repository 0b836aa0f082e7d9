import {
  CompressionTypes,
  IDEMPOTENT_PRODUCER,
  openConsumer,
  openProducer,
  type Consumer,
  type EachBatchPayload,
  type Message,
  type Producer,
  type TopicMessages,
} from '#libs/kafka';
import { BatchCoalescer } from '#libs/messaging';
import { TRANSACTION_RETRY } from '#apps/coordinator/src/run-partitions.js';
import { measureCpuSplit, type CpuShare } from '../support/cpu.js';
import { progress } from '../support/progress.js';
import type { Resources } from '../support/resources.js';
import type { Sandbox } from '../support/sandbox.js';
import { percentile, sortedCopy } from '../support/stats.js';
import { createTopicLike } from './kafka-baseline.js';

/** A chain's nodes: a request, then per node a task and its completion (7 records, as a 3-node run's critical path). */
const NODES = 3;
/** About what the platform's run.requested, node.dispatch.function and node.completed records weigh (bench:runs). */
const PAYLOAD_BYTES = 120;
/** The platform's other records per coordinator input (bench:runs, Kafka per completed run): bytes of each. */
const STATE_BYTES = 150;
const EVENT_BYTES = 86;
const EVENTS_PER_INPUT = 2;

/**
 * What else the coordinator writes per input besides the next task: nothing (the critical path alone), a changelog
 * record (read by a projector group), or that and two run events (read by a fanout group), as the platform does.
 */
export const CHAIN_RECORDS = ['tasks', 'state', 'state+events'] as const;
export type ChainRecords = (typeof CHAIN_RECORDS)[number];

/**
 * How chains are started, as bench:runs' modes: `concurrency` starters each sending its next request once its last
 * chain ended (1: idle), or `rate` a second on a fixed schedule whatever the answers.
 */
export type ChainLoad =
  { readonly kind: 'closed'; readonly concurrency: number } | { readonly kind: 'rate'; readonly rate: number };

export const chainLoadLabel = (load: ChainLoad): string =>
  load.kind === 'rate'
    ? `fixed rate ${load.rate}/s`
    : load.concurrency === 1
      ? 'one at a time'
      : `${load.concurrency} in flight`;

/** One case of the floor: how chains are started, and what the coordinator writes and how. */
export interface ChainCase {
  readonly load: ChainLoad;
  /** The coordinator's writes in Kafka transactions (the platform's way), or plain sends. */
  readonly transactional: boolean;
  readonly records: ChainRecords;
}

/** A case's name, unique among the cases: its figures' keys in the report, its topics' and groups' names here. */
export const chainCaseKey = ({ load, transactional, records }: ChainCase): string =>
  (load.kind === 'rate' ? `Rate${load.rate}` : load.concurrency === 1 ? 'Idle' : 'Max') +
  (transactional ? 'Tx' : '') +
  { tasks: '', state: 'State', 'state+events': 'StateEvents' }[records];

export interface ChainLoopOptions extends ChainCase {
  readonly warmupMs: number;
  readonly durationMs: number;
  /** The coordinator's fetch wait and the worker's (COORDINATOR_MAX_WAIT_MS, WORKER_MAX_WAIT_MS). */
  readonly coordinatorMaxWaitMs: number;
  readonly workerMaxWaitMs: number;
}

export interface ChainLoopRun extends ChainCase {
  readonly completedPerSecond: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  readonly cpu: CpuShare;
  /** CPU ms per completed chain: this process (every client of the chain) and the broker (java). */
  readonly cpuMsPerChain: { readonly node: number; readonly java: number };
  /** Requests the chain's clients sent to the broker per completed chain (produce, fetch, transactions, commits). */
  readonly requestsPerChain: number;
}

interface CoordinatorWrite {
  readonly messages: Message[];
  readonly state: Message[];
  readonly events: Message[];
}

/** Unwritten batches a handler may leave behind before it waits for its own write (the platform's worker: 64). */
const MAX_PENDING_WRITES = 64;

/**
 * The floor under bench:runs' modes: 3-node chains through kafkajs alone on the same broker, in this process, with the
 * platform's shape and none of its work (no HTTP, Postgres, Avro, run state, expressions or SSE). A
 * coordinator group reads requests and completions (co-partitioned by chain id) and sends each chain's next task; a
 * worker group reads tasks and sends their completions. Both merge the partition batches that arrive while one write
 * is under way into the next write (the platform's `BatchCoalescer`), with the platform's producer and consumer
 * settings (idempotent, one request in flight, acks=-1, read committed; the coordinator's writes snappy), and return
 * while it is under way, as the platform's pipelined coordinator and worker do. With `transactional` each of the
 * coordinator's writes is a Kafka transaction, as the platform's; otherwise plain sends. Offsets are committed apart,
 * on the platform's interval. A chain ends when the coordinator reads its third completion. `records`
 * adds the platform's other writes per coordinator input (a changelog record, two run events) and groups that fetch
 * them, to price them at the Kafka level.
 */
export async function measureChainLoop(
  sandbox: Sandbox,
  options: ChainLoopOptions,
  resources: Resources,
): Promise<ChainLoopRun> {
  const name = `chain${chainCaseKey(options)}`;
  const topics = {
    requests: `${sandbox.topicPrefix}bench.${name}.requests`,
    tasks: `${sandbox.topicPrefix}bench.${name}.tasks`,
    completions: `${sandbox.topicPrefix}bench.${name}.completions`,
    state: `${sandbox.topicPrefix}bench.${name}.state`,
    events: `${sandbox.topicPrefix}bench.${name}.events`,
  };
  const withState = options.records !== 'tasks';
  const withEvents = options.records === 'state+events';
  await createTopicLike(sandbox, sandbox.topic('run.requested'), topics.requests);
  await createTopicLike(sandbox, sandbox.topic('node.dispatch.function'), topics.tasks);
  await createTopicLike(sandbox, sandbox.topic('node.completed'), topics.completions);
  if (withState) await createTopicLike(sandbox, sandbox.topic('run.state'), topics.state);
  if (withEvents) await createTopicLike(sandbox, sandbox.topic('run.events'), topics.events);

  let requests = 0;
  const counted = <T extends Producer | Consumer>(client: T): T => {
    // The union's `on` overloads are not callable as one; both clients have the REQUEST event.
    (client as Producer).on((client as Producer).events.REQUEST, () => requests++);
    return client;
  };
  const producer = (role: string, transactional = false) => {
    const p = counted(
      openProducer(sandbox.kafka, `bench-${name}-${role}`, {
        ...IDEMPOTENT_PRODUCER,
        ...(transactional
          ? { transactionalId: `${sandbox.topicPrefix}bench-${name}-${role}`, retry: TRANSACTION_RETRY }
          : {}),
      }),
    );
    resources.defer(`${name} ${role} producer`, () => p.disconnect());
    return p;
  };
  // As the platform sends: the outbox publisher and the worker uncompressed, the coordinator snappy.
  const send = { acks: -1 } as const;
  const coordinatorSend = { acks: -1, compression: CompressionTypes.Snappy } as const;
  const toTopics = (writes: readonly { topic: string; messages: Message[] }[]): TopicMessages[] => {
    const byTopic = new Map<string, Message[]>();
    for (const w of writes) {
      const list = byTopic.get(w.topic);
      if (list) list.push(...w.messages);
      else byTopic.set(w.topic, [...w.messages]);
    }
    return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
  };

  const driverProducer = producer('driver');
  const workerProducer = producer('worker');
  const coordinatorProducer = producer('coordinator', options.transactional);
  await Promise.all([driverProducer.connect(), workerProducer.connect(), coordinatorProducer.connect()]);

  const payload = (step: number, bytes = PAYLOAD_BYTES) => {
    const value = Buffer.alloc(bytes, 0x61);
    value[0] = step;
    return value;
  };
  const requestsOut = new BatchCoalescer<Message>(async (messages) => {
    await driverProducer.sendBatch({ topicMessages: [{ topic: topics.requests, messages: [...messages] }], ...send });
  });
  const completionsOut = new BatchCoalescer<Message[]>(async (batches) => {
    await workerProducer.sendBatch({
      topicMessages: [{ topic: topics.completions, messages: batches.flat() }],
      ...send,
    });
  });
  const tasksOut = new BatchCoalescer<CoordinatorWrite>(async (writes) => {
    const topicMessages = toTopics(
      writes.flatMap((w) => [
        { topic: topics.tasks, messages: w.messages },
        { topic: topics.state, messages: w.state },
        { topic: topics.events, messages: w.events },
      ]),
    ).filter((t) => t.messages.length);
    if (!options.transactional) {
      await coordinatorProducer.sendBatch({ topicMessages, ...coordinatorSend });
      return;
    }
    if (!topicMessages.length) return;
    const transaction = await coordinatorProducer.transaction();
    try {
      await transaction.sendBatch({ topicMessages, ...coordinatorSend });
      await transaction.commit();
    } catch (error) {
      await transaction.abort().catch(() => undefined);
      throw error;
    }
  });

  /** The chains under way, by key: each one's end. */
  const ended = new Map<string, () => void>();
  // A failed write fails the measurement: the chains under way end at once (they never would), no new one starts.
  let failure: unknown;
  const fail = (error: unknown) => {
    failure ??= error;
    for (const end of ended.values()) end();
  };
  // As the platform's coordinator and worker: a handler returns while its write is under way (the next fetch goes
  // out meanwhile), unless too many are.
  let pending = 0;
  const pipelined = async (write: Promise<void>) => {
    pending++;
    const written = write.then(
      () => void pending--,
      (error: unknown) => {
        pending--;
        fail(error);
      },
    );
    if (pending > MAX_PENDING_WRITES) await written;
  };
  const coordinator = counted(
    openConsumer(sandbox.kafka, {
      groupId: sandbox.group(`${name}-coordinator`),
      maxWaitTimeInMs: options.coordinatorMaxWaitMs,
      minBytes: 1,
    }),
  );
  const worker = counted(
    openConsumer(sandbox.kafka, {
      groupId: sandbox.group(`${name}-worker`),
      maxWaitTimeInMs: options.workerMaxWaitMs,
      minBytes: 1,
    }),
  );
  // The readers of the other records only fetch them: what the broker and kafkajs spend, not what a projector does.
  const readers = [
    ...(withState
      ? [{ role: 'projector', topic: topics.state, maxWaitMs: sandbox.config.RUN_PROJECTOR_MAX_WAIT_MS }]
      : []),
    ...(withEvents ? [{ role: 'fanout', topic: topics.events, maxWaitMs: options.workerMaxWaitMs }] : []),
  ].map(({ role, topic, maxWaitMs }) => ({
    role,
    topic,
    consumer: counted(
      openConsumer(sandbox.kafka, {
        groupId: sandbox.group(`${name}-${role}`),
        maxWaitTimeInMs: maxWaitMs,
        minBytes: 1,
      }),
    ),
  }));
  for (const { role, consumer } of [
    { role: 'coordinator', consumer: coordinator },
    { role: 'worker', consumer: worker },
    ...readers,
  ]) {
    resources.defer(`${name} ${role} consumer`, () => consumer.disconnect());
  }
  const joined = (consumer: Consumer) =>
    new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  const allJoined = Promise.all([coordinator, worker, ...readers.map((r) => r.consumer)].map(joined));
  await Promise.all([coordinator.connect(), worker.connect(), ...readers.map((r) => r.consumer.connect())]);
  await coordinator.subscribe({ topics: [topics.requests, topics.completions], fromBeginning: true });
  await worker.subscribe({ topic: topics.tasks, fromBeginning: true });
  for (const { consumer, topic } of readers) {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachBatch: async () => Promise.resolve() });
  }

  const partitions = sandbox.topic('node.completed').partitions;
  // Offsets are committed apart from the writes, every CONSUMER_COMMIT_INTERVAL_MS, as the platform's transport does.
  const commits = { autoCommit: true, autoCommitInterval: sandbox.config.CONSUMER_COMMIT_INTERVAL_MS };
  await coordinator.run({
    ...commits,
    partitionsConsumedConcurrently: partitions,
    eachBatch: async ({ batch }: EachBatchPayload) => {
      const next: Message[] = [];
      const state: Message[] = [];
      const events: Message[] = [];
      for (const message of batch.messages) {
        const key = message.key?.toString() ?? '';
        const step = batch.topic === topics.requests ? 0 : (message.value?.[0] ?? 0);
        if (step >= NODES) ended.get(key)?.();
        else next.push({ key, value: payload(step + 1) });
        if (withState) state.push({ key, value: payload(step, STATE_BYTES) });
        if (withEvents) {
          for (let e = 0; e < EVENTS_PER_INPUT; e++) events.push({ key, value: payload(step, EVENT_BYTES) });
        }
      }
      await pipelined(tasksOut.submit({ messages: next, state, events }));
    },
  });
  await worker.run({
    ...commits,
    partitionsConsumedConcurrently: partitions,
    eachBatch: async ({ batch }: EachBatchPayload) => {
      // The "task": its completion carries the step it completed.
      await pipelined(
        completionsOut.submit(
          batch.messages.map((message) => ({ key: message.key, value: payload(message.value?.[0] ?? 0) })),
        ),
      );
    },
  });
  await allJoined;

  let nextChain = 0;
  let measuring = false;
  let stopping = false;
  let completedInWindow = 0;
  const latencies: number[] = [];
  const chain = async () => {
    if (failure !== undefined) return;
    const key = `c${nextChain++}`;
    const started = performance.now();
    const inWindow = measuring;
    await new Promise<void>((resolve) => {
      ended.set(key, resolve);
      requestsOut.submit({ key, value: payload(0) }).catch(fail);
    });
    ended.delete(key);
    if (failure !== undefined) return;
    if (measuring) completedInWindow++;
    if (inWindow) latencies.push(performance.now() - started);
  };
  const load = options.load;
  const starters: Promise<void>[] = [];
  const rateLoop = async (rate: number) => {
    const started = performance.now();
    let scheduled = 0;
    while (!stopping && failure === undefined) {
      while (started + (scheduled * 1000) / rate <= performance.now()) {
        scheduled++;
        starters.push(chain());
      }
      await new Promise((resolve) =>
        setTimeout(resolve, Math.max(0, started + (scheduled * 1000) / rate - performance.now())),
      );
    }
  };
  const driving =
    load.kind === 'rate'
      ? rateLoop(load.rate)
      : Promise.all(
          Array.from({ length: load.concurrency }, async () => {
            while (!stopping && failure === undefined) await chain();
          }),
        );
  await new Promise((resolve) => setTimeout(resolve, options.warmupMs));
  measuring = true;
  requests = 0;
  const endCpu = measureCpuSplit([], sandbox.id);
  const windowStart = performance.now();
  await new Promise((resolve) => setTimeout(resolve, options.durationMs));
  const { share } = endCpu();
  const windowS = (performance.now() - windowStart) / 1000;
  measuring = false;
  const requestsInWindow = requests;
  stopping = true;
  await driving;
  await Promise.all(starters);
  if (failure !== undefined)
    throw failure instanceof Error ? failure : new Error('a chain write failed', { cause: failure });

  const completedPerSecond = completedInWindow / windowS;
  const sorted = sortedCopy(latencies);
  const result: ChainLoopRun = {
    load,
    transactional: options.transactional,
    records: options.records,
    completedPerSecond,
    latencyP50Ms: percentile(sorted, 0.5),
    latencyP99Ms: percentile(sorted, 0.99),
    cpu: share,
    cpuMsPerChain: {
      node: (share.loadGenerator / completedPerSecond) * 1000,
      java: (share.java / completedPerSecond) * 1000,
    },
    requestsPerChain: requestsInWindow / completedInWindow,
  };
  progress(
    `kafkajs chains (${options.transactional ? 'coordinator in transactions' : 'plain sends'}, ${options.records}, ` +
      `${chainLoadLabel(load)}): ${completedPerSecond.toFixed(0)} chains/s, p50 ${result.latencyP50Ms.toFixed(1)} ms ` +
      `p99 ${result.latencyP99Ms.toFixed(1)} ms; CPU per chain node ${result.cpuMsPerChain.node.toFixed(2)} ms, java ` +
      `${result.cpuMsPerChain.java.toFixed(2)} ms; ${result.requestsPerChain.toFixed(1)} requests per chain`,
  );
  return result;
}
