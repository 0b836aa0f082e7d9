/* eslint-disable no-console -- a command-line benchmark: its output is the console */
/* global process, console, setTimeout, setInterval, clearInterval, Buffer */
// One measurement in one fresh process: node bench.js <client> <scenario> [rate]
//   client:   kafkajs | rdkafka (= @confluentinc/kafka-javascript's KafkaJS-compatible API over librdkafka)
//             | rdkafka-native (the same package's node-rdkafka-style API; rate scenario only)
//   scenario: rtt | rate | txn
// Prints one JSON line on stdout. Topics are created with the prefix spike-rdk- and deleted at the end.
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const [client, scenario, rateArg] = process.argv.slice(2);
const BROKERS = [process.env.BROKER ?? '127.0.0.1:9092'];
const RUN = `spike-rdk-${scenario}-${client}-${process.pid}-${Date.now().toString(36)}`;
const MAX_WAIT_MS = Number(process.env.MAX_WAIT_MS ?? 10);

// ---------- clients ----------
const kjs = require('kafkajs');
const adminKafka = new kjs.Kafka({ clientId: 'spike-rdk-admin', brokers: BROKERS, logLevel: kjs.logLevel.NOTHING });
let kafka;
if (client === 'kafkajs') {
  kafka = new kjs.Kafka({ clientId: RUN, brokers: BROKERS, logLevel: kjs.logLevel.NOTHING });
} else if (client === 'rdkafka') {
  const RK = require('@confluentinc/kafka-javascript').KafkaJS;
  kafka = new RK.Kafka({ kafkaJS: { clientId: RUN, brokers: BROKERS, logLevel: RK.logLevel.NOTHING } });
} else if (client === 'rdkafka-native') {
  // The node-rdkafka-style API of the same package (no KafkaJS layer): the floor of what librdkafka costs the event loop.
  kafka = require('@confluentinc/kafka-javascript');
} else throw new Error(`unknown client ${client}`);
const native = client === 'rdkafka-native';
if (native && scenario !== 'rate') throw new Error('rdkafka-native is measured in the rate scenario only');

// Producer as our service configures it: acks=all, idempotent, one request in flight, no linger, no compression.
function producer(extra = {}) {
  if (client === 'kafkajs') {
    // A transactional producer retries CONCURRENT_TRANSACTIONS as the coordinator does (apps/coordinator's
    // TRANSACTION_RETRY: from 2 ms), not after kafkajs' default 300 ms.
    const retry = extra.transactionalId
      ? { retry: { initialRetryTime: 2, maxRetryTime: 250, multiplier: 1.5, retries: Number.MAX_SAFE_INTEGER } }
      : {};
    return kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      ...retry,
      ...extra,
    });
  }
  return kafka.producer({
    kafkaJS: { acks: -1, idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, ...extra },
    'linger.ms': 0,
    'socket.nagle.disable': true,
  });
}
// Consumer tuned for latency the same way on both sides: fetch.min.bytes 1, fetch.max.wait 10 ms, offsets auto-committed every 5 s.
function consumer(groupId, extra = {}) {
  if (client === 'kafkajs') {
    return kafka.consumer({
      groupId,
      maxWaitTimeInMs: MAX_WAIT_MS,
      minBytes: 1,
      sessionTimeout: 30000,
      heartbeatInterval: 3000,
      ...extra,
    });
  }
  return kafka.consumer({
    kafkaJS: {
      groupId,
      maxWaitTimeInMs: MAX_WAIT_MS,
      minBytes: 1,
      fromBeginning: true,
      autoCommit: true,
      autoCommitInterval: 5000,
      sessionTimeout: 30000,
      heartbeatInterval: 3000,
      ...extra,
    },
    'socket.nagle.disable': true,
    // kafkajs hands eachBatch a whole fetched partition batch; the compat layer caps a batch at 32 messages unless told.
    ...(process.env.RDK_MAX_BATCH ? { 'js.consumer.max.batch.size': Number(process.env.RDK_MAX_BATCH) } : {}),
  });
}
async function subscribe(c, topic) {
  if (client === 'kafkajs') await c.subscribe({ topic, fromBeginning: true });
  else await c.subscribe({ topics: [topic] });
}
const runOpts = client === 'kafkajs' ? { autoCommitInterval: 5000 } : {};
const send = (p, topic, messages) =>
  client === 'kafkajs' ? p.send({ topic, messages, acks: -1 }) : p.send({ topic, messages });

// ---------- measurement helpers ----------
function threads() {
  const out = new Map();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const ns = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      const comm = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
      out.set(tid, { comm, ns });
    } catch {
      /* thread gone */
    }
  }
  return out;
}
function snap() {
  return { t: performance.now(), cpu: process.cpuUsage(), elu: performance.eventLoopUtilization(), th: threads() };
}
// CPU ms per thread group between two snapshots: main = the event loop thread (tid == pid),
// rdk = librdkafka's own threads (rdk:main, rdk:broker*, rdk:bg ...), other = V8 platform/GC workers, libuv pool, etc.
function delta(a, b) {
  const groups = { main: 0, rdk: 0, other: 0 };
  const byComm = {};
  for (const [tid, { comm, ns }] of b.th) {
    const d = (ns - (a.th.get(tid)?.ns ?? 0)) / 1e6;
    const g = Number(tid) === process.pid ? 'main' : comm.startsWith('rdk:') ? 'rdk' : 'other';
    groups[g] += d;
    const key = g === 'main' ? 'main' : comm.replace(/[0-9]+$/, '#');
    byComm[key] = (byComm[key] ?? 0) + d;
  }
  const cpu = process.cpuUsage(a.cpu);
  return {
    wallMs: b.t - a.t,
    cpuMs: (cpu.user + cpu.system) / 1000,
    elu: performance.eventLoopUtilization(b.elu, a.elu).utilization,
    threadMs: groups,
    byComm: Object.fromEntries(
      Object.entries(byComm)
        .filter(([, v]) => v >= 1)
        .map(([k, v]) => [k, +v.toFixed(1)]),
    ),
  };
}
function q(arr, p) {
  if (!arr.length) return null;
  const s = Float64Array.from(arr).sort();
  return +s[Math.min(s.length - 1, Math.floor(p * s.length))].toFixed(3);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const PAD = Buffer.alloc(300 - 8 - 8, 'x');
function payload(id) {
  const b = Buffer.allocUnsafe(300);
  b.writeDoubleLE(performance.now(), 0);
  b.writeDoubleLE(id, 8);
  PAD.copy(b, 16);
  return b;
}

const admin = adminKafka.admin();
await admin.connect();
const topics = [];
async function topic(suffix, numPartitions) {
  const name = `${RUN}-${suffix}`;
  // kafkajs' waitForLeaders can throw UNKNOWN_TOPIC_OR_PARTITION from a metadata request racing the creation:
  // create without it, then wait until every partition has a leader.
  await admin.createTopics({ topics: [{ topic: name, numPartitions, replicationFactor: 1 }] });
  for (let i = 0; ; i++) {
    const md = await admin.fetchTopicMetadata({ topics: [name] }).catch(() => null);
    const parts = md?.topics[0]?.partitions ?? [];
    if (parts.length === numPartitions && parts.every((x) => x.leader >= 0)) break;
    if (i > 100) throw new Error(`topic ${name} has no leaders`);
    await sleep(50);
  }
  topics.push(name);
  return name;
}
const closers = [];
async function finish(result) {
  for (const c of closers.reverse()) await c().catch(() => {});
  await admin.deleteTopics({ topics }).catch((e) => console.error('deleteTopics', e.message));
  await admin.disconnect();
  console.log(JSON.stringify({ client, scenario, ...result }));
  process.exit(0);
}
setTimeout(() => {
  console.error('timeout');
  process.exit(2);
}, 120_000).unref();

// ---------- scenarios ----------
if (scenario === 'rtt') {
  const N = Number(process.env.RTT_N ?? 1000),
    WARM = 50;
  const t = await topic('rtt', 1);
  const c = consumer(`${RUN}-g`);
  const p = producer();
  await c.connect();
  await p.connect();
  closers.push(
    () => p.disconnect(),
    () => c.disconnect(),
  );
  await subscribe(c, t);
  let waiter = null;
  await c.run({
    ...runOpts,
    eachMessage: async ({ message }) => {
      const id = message.value.readDoubleLE(8);
      if (waiter && waiter.id === id) waiter.resolve();
    },
  });
  const recv = [],
    ack = [];
  let s0;
  for (let i = 0; i < WARM + N; i++) {
    if (i === WARM) s0 = snap();
    const got = new Promise((resolve) => {
      waiter = { id: i, resolve };
    });
    const t0 = performance.now();
    const sent = send(p, t, [{ value: payload(i) }]).then(() => performance.now() - t0);
    await (i === 0
      ? Promise.race([
          got,
          sleep(30000).then(() => {
            throw new Error('first message never arrived');
          }),
        ])
      : got);
    const l = performance.now() - t0;
    const a = await sent;
    if (i >= WARM) {
      recv.push(l);
      ack.push(a);
    }
  }
  const d = delta(s0, snap());
  await finish({
    n: N,
    p50: q(recv, 0.5),
    p99: q(recv, 0.99),
    max: q(recv, 1),
    ackP50: q(ack, 0.5),
    ...d,
    cpuPerMsgMs: d.cpuMs / N,
    mainPerMsgMs: d.threadMs.main / N,
  });
} else if (scenario === 'rate' && native) {
  // Same shape as below: produce() per message (delivery reports polled in the background), consume loop with 'data' events.
  const RATE = Number(rateArg ?? 5000),
    SECS = Number(process.env.RATE_SECS ?? 10),
    WARM_S = 2,
    PARTS = 6,
    TICK = 10;
  const t = await topic('rate', PARTS);
  const p = new kafka.Producer({
    'bootstrap.servers': BROKERS.join(','),
    'client.id': RUN,
    acks: -1,
    'enable.idempotence': true,
    'max.in.flight.requests.per.connection': 1,
    'linger.ms': 0,
    'socket.nagle.disable': true,
    dr_cb: true,
  });
  const c = new kafka.KafkaConsumer(
    {
      'bootstrap.servers': BROKERS.join(','),
      'client.id': RUN,
      'group.id': `${RUN}-g`,
      'fetch.wait.max.ms': MAX_WAIT_MS,
      'fetch.min.bytes': 1,
      'socket.nagle.disable': true,
      'enable.auto.commit': true,
      'auto.commit.interval.ms': 5000,
    },
    { 'auto.offset.reset': 'earliest' },
  );
  const ready = (x) =>
    new Promise((res, rej) => {
      x.once('ready', res);
      x.connect({}, (e) => e && rej(e));
    });
  await ready(p);
  await ready(c);
  p.setPollInBackground(true);
  closers.push(
    () => new Promise((r) => p.disconnect(r)),
    () => new Promise((r) => c.disconnect(r)),
  );
  let outstanding = 0,
    sendErr = 0;
  p.on('delivery-report', (err) => {
    outstanding--;
    if (err) sendErr++;
  });
  let phase = 'probe',
    probeSeen = false,
    consumed = 0;
  const lat = [];
  c.setDefaultConsumeTimeout(100);
  c.subscribe([t]);
  c.on('data', (m) => {
    const id = m.value.readDoubleLE(8);
    if (id < 0) {
      probeSeen = true;
      return;
    }
    if (phase === 'measure' && id < 1e12) {
      lat.push(performance.now() - m.value.readDoubleLE(0));
      consumed++;
    }
  });
  c.consume();
  const produce = (partition, value) => {
    outstanding++;
    p.produce(t, partition, value, null, null);
  };
  for (let i = 0; !probeSeen; i++) {
    if (i > 300) throw new Error('consumer never got a probe');
    for (let k = 0; k < PARTS; k++) produce(k, payload(-1));
    await sleep(100);
  }
  let skipped = 0,
    sentN = 0;
  const runPhase = (secs, tag) =>
    new Promise((resolve) => {
      const start = performance.now();
      let done = 0;
      const iv = setInterval(() => {
        const el = performance.now() - start;
        const due = Math.min(Math.floor((el / 1000) * RATE), Math.floor(secs * RATE)) - done;
        if (due > 0) {
          if (outstanding >= (50 * RATE) / 100) {
            skipped += due;
            done += due;
          } else {
            for (let k = 0; k < due; k++) produce((done + k) % PARTS, payload(tag === 'measure' ? sentN + k : 1e12));
            if (tag === 'measure') sentN += due;
            done += due;
          }
        }
        if (el >= secs * 1000) {
          clearInterval(iv);
          resolve();
        }
      }, TICK);
    });
  await runPhase(WARM_S, 'warm');
  phase = 'measure';
  const s0 = snap();
  await runPhase(SECS, 'measure');
  const d = delta(s0, snap());
  const consumedInWindow = consumed;
  const drainStart = performance.now();
  while (consumed < sentN && performance.now() - drainStart < 10000) await sleep(20);
  await finish({
    rate: RATE,
    secs: SECS,
    sent: sentN,
    skipped,
    sendErr,
    consumedInWindow,
    consumedTotal: consumed,
    deliveredRate: consumedInWindow / (d.wallMs / 1000),
    p50: q(lat, 0.5),
    p99: q(lat, 0.99),
    max: q(lat, 1),
    ...d,
    cpuPerMsgMs: d.cpuMs / consumedInWindow,
    mainPerMsgMs: d.threadMs.main / consumedInWindow,
    eluCpuPerMsgMs: (d.elu * d.wallMs) / consumedInWindow,
  });
} else if (scenario === 'rate') {
  const RATE = Number(rateArg ?? 5000),
    SECS = Number(process.env.RATE_SECS ?? 10),
    WARM_S = 2,
    PARTS = 6,
    TICK = 10;
  const t = await topic('rate', PARTS);
  const c = consumer(`${RUN}-g`);
  const p = producer();
  await c.connect();
  await p.connect();
  closers.push(
    () => p.disconnect(),
    () => c.disconnect(),
  );
  await subscribe(c, t);
  let phase = 'probe',
    probeSeen = false,
    consumed = 0;
  const lat = [];
  await c.run({
    ...runOpts,
    eachBatch: async ({ batch }) => {
      const now = performance.now();
      for (const m of batch.messages) {
        const id = m.value.readDoubleLE(8);
        if (id < 0) {
          probeSeen = true;
          continue;
        }
        if (phase === 'measure' && id >= 0 && id < 1e12) {
          lat.push(now - m.value.readDoubleLE(0));
          consumed++;
        }
      }
    },
  });
  // wait until the group has joined and fetches (probe messages on every partition)
  for (let i = 0; !probeSeen; i++) {
    if (i > 300) throw new Error('consumer never got a probe');
    await send(
      p,
      t,
      Array.from({ length: PARTS }, (_, k) => ({ partition: k, value: payload(-1) })),
    );
    await sleep(100);
  }
  let outstanding = 0,
    skipped = 0,
    sentN = 0,
    sendErr = 0;
  const runPhase = (secs, tag) =>
    new Promise((resolve) => {
      const start = performance.now();
      let done = 0;
      const iv = setInterval(() => {
        const el = performance.now() - start;
        const due = Math.min(Math.floor((el / 1000) * RATE), Math.floor(secs * RATE)) - done;
        if (due > 0) {
          if (outstanding >= 50) {
            skipped += due;
            done += due;
          } else {
            const msgs = new Array(due);
            for (let k = 0; k < due; k++)
              msgs[k] = { partition: (done + k) % PARTS, value: payload(tag === 'measure' ? sentN + k : 1e12) };
            if (tag === 'measure') sentN += due;
            done += due;
            outstanding++;
            send(p, t, msgs)
              .catch(() => {
                sendErr++;
              })
              .finally(() => {
                outstanding--;
              });
          }
        }
        if (el >= secs * 1000) {
          clearInterval(iv);
          resolve();
        }
      }, TICK);
    });
  await runPhase(WARM_S, 'warm');
  phase = 'measure';
  const s0 = snap();
  await runPhase(SECS, 'measure');
  const d = delta(s0, snap());
  const consumedInWindow = consumed;
  const drainStart = performance.now();
  while (consumed < sentN && performance.now() - drainStart < 10000) await sleep(20);
  await finish({
    rate: RATE,
    secs: SECS,
    sent: sentN,
    skipped,
    sendErr,
    consumedInWindow,
    consumedTotal: consumed,
    deliveredRate: consumedInWindow / (d.wallMs / 1000),
    p50: q(lat, 0.5),
    p99: q(lat, 0.99),
    max: q(lat, 1),
    ...d,
    cpuPerMsgMs: d.cpuMs / consumedInWindow,
    mainPerMsgMs: d.threadMs.main / consumedInWindow,
    eluCpuPerMsgMs: (d.elu * d.wallMs) / consumedInWindow,
  });
} else if (scenario === 'txn') {
  const N = Number(process.env.TXN_N ?? 300),
    WARM = 20;
  const tin = await topic('in', 1),
    tout = await topic('out', 1);
  const group = `${RUN}-coord`;
  const p = producer({ transactionalId: `${RUN}-tx` });
  const reader = consumer(`${RUN}-reader`, { readUncommitted: false }); // read_committed
  await p.connect();
  await reader.connect();
  closers.push(
    () => p.disconnect(),
    () => reader.disconnect(),
  );
  let coord = null;
  if (client === 'rdkafka') {
    // librdkafka's sendOffsets takes the consumer (its group metadata), not a group id: a joined member of `group`.
    coord = consumer(group);
    await coord.connect();
    closers.push(() => coord.disconnect());
    await subscribe(coord, tin);
    await coord.run({ eachMessage: async () => {} });
    for (let i = 0; coord.assignment().length === 0; i++) {
      if (i > 300) throw new Error('coord never assigned');
      await sleep(100);
    }
  }
  await subscribe(reader, tout);
  let waiter = null,
    probeSeen = false;
  await reader.run({
    ...runOpts,
    eachMessage: async ({ message }) => {
      const id = message.value.readDoubleLE(8);
      if (id < 0) probeSeen = true;
      if (waiter && waiter.id === id) waiter.resolve();
    },
  });
  const step = async (i) => {
    const txn = await p.transaction();
    await send(txn, tout, [{ value: payload(-2) }, { value: payload(i) }]);
    const offsets = { topics: [{ topic: tin, partitions: [{ partition: 0, offset: String(Math.max(i, 0) + 1) }] }] };
    await txn.sendOffsets(
      client === 'kafkajs' ? { consumerGroupId: group, ...offsets } : { consumer: coord, ...offsets },
    );
    await txn.commit();
  };
  for (let i = 0; !probeSeen; i++) {
    if (i > 300) throw new Error('reader never got a probe');
    await step(-1);
    await sleep(100);
  }
  const commitL = [],
    visibleL = [];
  let s0;
  for (let i = 0; i < WARM + N; i++) {
    if (i === WARM) s0 = snap();
    const got = new Promise((resolve) => {
      waiter = { id: i, resolve };
    });
    const t0 = performance.now();
    await step(i);
    const tc = performance.now() - t0;
    await got;
    const tv = performance.now() - t0;
    if (i >= WARM) {
      commitL.push(tc);
      visibleL.push(tv);
    }
  }
  const d = delta(s0, snap());
  await finish({
    n: N,
    commitP50: q(commitL, 0.5),
    commitP99: q(commitL, 0.99),
    visibleP50: q(visibleL, 0.5),
    visibleP99: q(visibleL, 0.99),
    max: q(visibleL, 1),
    ...d,
    cpuPerTxnMs: d.cpuMs / N,
    mainPerTxnMs: d.threadMs.main / N,
  });
} else throw new Error(`unknown scenario ${scenario}`);
