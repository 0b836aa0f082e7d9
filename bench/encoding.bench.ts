import { createRequire } from 'node:module';
import avro from 'avsc';
import { readSchemaFiles, WireEncoder, type RunEvent } from '#libs/events';
import { encodeProduceRequest, TRACE_HEADERS } from '#test/support/kafkajs-requests.js';
import { reportMicroBench, RoundSamples, startMicroBench } from './support/micro-bench.js';
import { progress } from './support/progress.js';

/**
 * `npm run bench:encoding`: the CPU the run path spends encoding, as installed against what the libraries do
 * unchanged, in one process, rounds alternating. kafkajs' requests (its Encoder patched to take pooled, unfilled
 * buffers: patches/kafkajs+2.2.4.patch; stock, every Encoder gets a zero-filled ArrayBuffer of its own): a coordinator
 * transaction's produce (40 records over 5 topics, Avro-sized values, a trace header) and a consumer's fetch of 12
 * partitions of 3 topics. An event in the Confluent wire format: `WireEncoder` against the registry client's encode
 * (avsc's toBuffer, then the magic byte and schema id concatenated before it; its schema cache lookup left out).
 * No stack needed. Progress on stderr; stdout gets the table and one JSON line.
 */

const require = createRequire(import.meta.url);
type Encode = () => Promise<Buffer> | Buffer;
type RequestFactory = (args: object) => { encode(): Promise<{ buffer: Buffer }> };
const fetchRequest = require('kafkajs/src/protocol/requests/fetch/v11/request.js') as RequestFactory;
const registryWireFormat = require('@kafkajs/confluent-schema-registry/dist/wireEncoder.js') as {
  encode(registryId: number, payload: Buffer): Buffer;
};

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const settings = { runs: env('BENCH_RUNS', 5), encodings: env('BENCH_ENCODINGS', 5_000) };

const value = Buffer.alloc(180, 7);
const records = Array.from({ length: 40 }, (_, i) => ({
  key: `3f2a9c1e-1111-2222-3333-${String(i).padStart(12, '0')}`,
  value,
  headers: TRACE_HEADERS,
  timestamp: Date.now(),
}));
const produce = () =>
  encodeProduceRequest(
    [0, 1, 2, 3, 4].map((t) => ({ topic: `run.topic${t}`, partition: t, records: records.slice(t * 8, t * 8 + 8) })),
  );
const fetch = () =>
  fetchRequest({
    replicaId: -1,
    isolationLevel: 1,
    maxWaitTime: 100,
    minBytes: 1,
    maxBytes: 10_485_760,
    sessionId: 0,
    sessionEpoch: -1,
    topics: ['node.completed', 'run.requested', 'run.control'].map((topic) => ({
      topic,
      partitions: Array.from({ length: 12 }, (_, partition) => ({
        partition,
        currentLeaderEpoch: -1,
        fetchOffset: '123456',
        logStartOffset: '-1',
        maxBytes: 1_048_576,
      })),
    })),
    forgottenTopics: [],
    rackId: '',
  })
    .encode()
    .then((e) => e.buffer);

const runEventSchema = (await readSchemaFiles()).find((f) => f.name === 'run-event')?.schema;
const runEventType = avro.Type.forSchema(runEventSchema as avro.Schema);
const runEvent: RunEvent = {
  eventId: '0b7e6a52-3c1d-4d7e-9a3b-5f7c2e1d9a40',
  type: 'run.event',
  seq: 4,
  occurredAt: Date.now(),
  workspaceId: '7d0c1f2e-9b8a-4c3d-8e7f-6a5b4c3d2e1f',
  runId: '3f2a9c1e-1111-2222-3333-444455556666',
  workflowId: '9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d',
  kind: 'node.completed',
  status: 'running',
  nodeId: 'b',
  detailJson: JSON.stringify({ attempt: 1, output: { value: 42 } }),
};
const wireEncoder = new WireEncoder(17, runEventType);

interface Case {
  readonly key: string;
  readonly label: string;
  readonly unit: string;
  /** What the libraries do unchanged, and what the run path does. */
  readonly stock: { readonly label: string; readonly encode: Encode };
  readonly ours: { readonly label: string; readonly encode: Encode };
}
const kafkajsStock = "stock kafkajs' Buffer.alloc";
const kafkajsOurs = 'as installed (pooled)';
const CASES: readonly Case[] = [
  {
    key: 'produce',
    label: 'produce request, 40 records in 5 topics',
    unit: 'µs CPU/request',
    stock: { label: kafkajsStock, encode: () => withStockAllocation(produce) },
    ours: { label: kafkajsOurs, encode: produce },
  },
  {
    key: 'fetch',
    label: 'fetch request, 36 partitions in 3 topics',
    unit: 'µs CPU/request',
    stock: { label: kafkajsStock, encode: () => withStockAllocation(fetch) },
    ours: { label: kafkajsOurs, encode: fetch },
  },
  {
    key: 'run_event',
    label: 'run.events event, Confluent wire format',
    unit: 'µs CPU/event',
    stock: { label: 'registry client', encode: () => registryWireFormat.encode(17, runEventType.toBuffer(runEvent)) },
    ours: { label: 'WireEncoder', encode: () => wireEncoder.encode(runEvent) },
  },
];

/** Stock kafkajs' Encoder allocation: Buffer.alloc, a zero-filled ArrayBuffer outside the pool per Encoder. */
async function withStockAllocation<T>(work: () => Promise<T>): Promise<T> {
  const pooled = Object.getOwnPropertyDescriptor(Buffer, 'allocUnsafe') as PropertyDescriptor;
  Object.defineProperty(Buffer, 'allocUnsafe', { ...pooled, value: (size: number) => Buffer.alloc(size) });
  try {
    return await work();
  } finally {
    Object.defineProperty(Buffer, 'allocUnsafe', pooled);
  }
}

/** Process CPU in µs per encoding (synchronous work: CPU, not waiting, is what it costs). */
async function measure(encode: Encode, count: number): Promise<number> {
  const before = process.cpuUsage();
  let bytes = 0;
  for (let i = 0; i < count; i++) bytes += (await encode()).length;
  const used = process.cpuUsage(before);
  if (bytes <= 0) throw new Error('nothing was encoded');
  return (used.user + used.system) / count;
}

async function main(): Promise<void> {
  const busy = await startMicroBench('encoding', `${settings.runs} runs of ${settings.encodings} encodings per figure`);
  const samples = new RoundSamples();
  for (const c of CASES) {
    // Warm-up: V8's optimizer for both.
    await measure(c.stock.encode, 1_000);
    await measure(c.ours.encode, 1_000);
  }
  for (let run = 1; run <= settings.runs; run++) {
    for (const c of CASES) {
      // Alternating which goes first, so a drift of the machine's speed does not favour one.
      const [first, second] = run % 2 === 0 ? (['stock', 'ours'] as const) : (['ours', 'stock'] as const);
      samples.record(`${c.key}.${first}`, await measure(c[first].encode, settings.encodings));
      samples.record(`${c.key}.${second}`, await measure(c[second].encode, settings.encodings));
      progress(
        `run ${run} ${c.key}: ${c.stock.label} ${samples.last(`${c.key}.stock`)} µs, ` +
          `${c.ours.label} ${samples.last(`${c.key}.ours`)} µs`,
      );
    }
  }
  const figures = samples.figures(CASES, ['stock', 'ours'] as const, (c, mode) => ({
    label: `${c.label}: ${c[mode].label}`,
    unit: c.unit,
  }));
  reportMicroBench(settings, busy, figures);
}

await main();
