import { createRequire } from 'node:module';
import { idleBusy } from './support/cpu.js';
import { progress } from './support/progress.js';
import { figuresJson, table, type Figure } from './support/report.js';
import { summarize } from './support/stats.js';

/**
 * `npm run bench:kafkajs-encoding`: the CPU kafkajs spends encoding the requests of the run path, as installed (its
 * Encoder patched to take pooled, unfilled buffers: patches/kafkajs+2.2.4.patch) against stock kafkajs' allocation
 * (a zero-filled ArrayBuffer of its own per Encoder) in the same process, rounds alternating. The requests are a
 * coordinator transaction's produce (40 records over 5 topics, Avro-sized values, a trace header) and a consumer's
 * fetch of 12 partitions of 3 topics. No stack needed. Progress on stderr; stdout gets the table and one JSON line.
 */

const require = createRequire(import.meta.url);
type Encode = () => Promise<{ buffer: Buffer }>;
type RequestFactory = (args: object) => { encode: Encode };
const produceRequest = require('kafkajs/src/protocol/requests/produce/v3/request.js') as RequestFactory;
const fetchRequest = require('kafkajs/src/protocol/requests/fetch/v11/request.js') as RequestFactory;

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const settings = { runs: env('BENCH_RUNS', 5), requests: env('BENCH_REQUESTS', 5_000) };

const value = Buffer.alloc(180, 7);
const records = Array.from({ length: 40 }, (_, i) => ({
  key: `3f2a9c1e-1111-2222-3333-${String(i).padStart(12, '0')}`,
  value,
  headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
  timestamp: Date.now(),
}));
const produce = () =>
  produceRequest({
    acks: -1,
    timeout: 30_000,
    transactionalId: 'coordinator-p0',
    producerId: 1,
    producerEpoch: 0,
    compression: 0,
    topicData: [0, 1, 2, 3, 4].map((t) => ({
      topic: `run.topic${t}`,
      partitions: [{ partition: t, firstSequence: 0, messages: records.slice(t * 8, t * 8 + 8) }],
    })),
  }).encode();
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
  }).encode();

const CASES = [
  { key: 'produce', label: 'produce request, 40 records in 5 topics', encode: produce },
  { key: 'fetch', label: 'fetch request, 36 partitions in 3 topics', encode: fetch },
] as const;

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

/** Process CPU in µs per request (encoding is synchronous work: CPU, not waiting, is what it costs). */
async function measure(encode: Encode, count: number): Promise<number> {
  const before = process.cpuUsage();
  let bytes = 0;
  for (let i = 0; i < count; i++) bytes += (await encode()).buffer.length;
  const used = process.cpuUsage(before);
  if (bytes <= 0) throw new Error('nothing was encoded');
  return (used.user + used.system) / count;
}

const write = (text: string) => process.stdout.write(`${text}\n`);

async function main(): Promise<void> {
  const busy = await idleBusy(1_000);
  write(
    `kafkajs request encoding (${new Date().toISOString()}): ${settings.runs} runs of ${settings.requests} requests ` +
      `per figure; ${busy.toFixed(2)} cores busy before the start`,
  );
  write('');
  const samples = new Map<string, number[]>();
  const record = (key: string, sample: number) => samples.set(key, [...(samples.get(key) ?? []), sample]);
  for (const c of CASES) {
    // Warm-up: V8's optimizer for both allocations.
    await measure(c.encode, 1_000);
    await withStockAllocation(() => measure(c.encode, 1_000));
  }
  for (let run = 1; run <= settings.runs; run++) {
    for (const c of CASES) {
      // Alternating which goes first, so a drift of the machine's speed does not favour one.
      const stockFirst = run % 2 === 0;
      const stock = () => withStockAllocation(() => measure(c.encode, settings.requests));
      const patched = () => measure(c.encode, settings.requests);
      const [a, b] = stockFirst ? [await stock(), await patched()] : [await patched(), await stock()];
      const [stockUs, patchedUs] = stockFirst ? [a, b] : [b, a];
      record(`${c.key}.stock`, stockUs);
      record(`${c.key}.patched`, patchedUs);
      progress(`run ${run} ${c.key}: stock ${stockUs.toFixed(1)} µs, patched ${patchedUs.toFixed(1)} µs`);
    }
  }
  const figures: Figure[] = CASES.flatMap((c) =>
    (['stock', 'patched'] as const).map((mode) => ({
      key: `${c.key}.${mode}`,
      label: `${c.label}: ${mode === 'stock' ? "stock kafkajs' Buffer.alloc" : 'as installed (pooled)'}`,
      unit: 'µs CPU/request',
      summary: summarize(samples.get(`${c.key}.${mode}`) ?? []),
      decimals: 1,
    })),
  );
  write(table(figures));
  write(JSON.stringify({ settings, coresBusyBefore: busy, figures: figuresJson(figures) }));
}

await main();
