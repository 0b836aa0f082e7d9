/* eslint-disable no-console -- a command-line benchmark: its output is the console */
/* global process, console */
// Runs every scenario for both clients in fresh processes, alternating which client goes first each round
// (this VM's speed drifts), then prints medians (min–max) over the rounds as a markdown table.
//   node run.js [rounds=3] [scenarios=rtt,rate5000,rate20000,txn]   (CLIENTS=kafkajs,rdkafka,rdkafka-native to add the
//   native API; raw JSON lines go to $RESULTS_DIR, default /tmp/spike-rdk-results)
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const rounds = Number(process.argv[2] ?? 3);
const scenarios = (process.argv[3] ?? 'rtt,rate5000,rate20000,txn').split(',');
const clients = (process.env.CLIENTS ?? 'kafkajs,rdkafka').split(',');
const resultsDir = process.env.RESULTS_DIR ?? join(tmpdir(), 'spike-rdk-results');
mkdirSync(resultsDir, { recursive: true });
const log = join(resultsDir, `raw-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`);

const results = [];
for (let r = 0; r < rounds; r++) {
  for (const sc of scenarios) {
    const order = r % 2 === 0 ? clients : [...clients].reverse();
    for (const c of order) {
      if (c === 'rdkafka-native' && !sc.startsWith('rate')) continue; // measured in the rate scenario only
      const [scenario, rate] = sc.startsWith('rate') ? ['rate', sc.slice(4)] : [sc, ''];
      const res = spawnSync(process.execPath, [join(here, 'bench.js'), c, scenario, rate].filter(Boolean), {
        encoding: 'utf8',
        timeout: 150_000,
      });
      const line = res.stdout
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .pop();
      if (!line) {
        console.error(`round ${r} ${sc} ${c} failed: ${res.status}\n${res.stderr}`);
        continue;
      }
      const d = { round: r, sc, ...JSON.parse(line) };
      results.push(d);
      appendFileSync(log, JSON.stringify(d) + '\n');
      console.error(
        `round ${r} ${sc} ${c}: ${JSON.stringify({ p50: d.p50 ?? d.commitP50, p99: d.p99 ?? d.visibleP99, cpu: d.cpuPerMsgMs ?? d.cpuPerTxnMs, main: d.mainPerMsgMs ?? d.mainPerTxnMs, elu: d.elu })}`,
      );
    }
  }
}

// leftovers (a crashed round) with our prefix only
const { Kafka, logLevel } = require('kafkajs');
const admin = new Kafka({ brokers: [process.env.BROKER ?? '127.0.0.1:9092'], logLevel: logLevel.NOTHING }).admin();
await admin.connect();
const left = (await admin.listTopics()).filter((t) => t.startsWith('spike-rdk-'));
if (left.length) await admin.deleteTopics({ topics: left });
await admin.disconnect();

const med = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const f = (x, d) => (x >= 100 ? x.toFixed(0) : x.toFixed(d));
function cell(rows, get, d = 2) {
  const xs = rows.map(get).filter((x) => x != null && Number.isFinite(x));
  if (!xs.length) return 'n/a';
  const n = xs.length === rounds ? '' : ` [${xs.length} of ${rounds} rounds]`;
  return xs.length === 1 ? f(xs[0], d) + n : `${f(med(xs), d)} (${f(Math.min(...xs), d)}–${f(Math.max(...xs), d)})${n}`;
}
const cols = [
  ['p50 ms', (d) => d.p50 ?? d.commitP50, 1],
  ['p99 ms', (d) => d.p99 ?? d.commitP99, 1],
  ['visible p50 / p99 ms (txn)', null],
  ['delivered msg/s', (d) => d.deliveredRate, 0],
  ['process CPU ms per msg (txn: per txn)', (d) => d.cpuPerMsgMs ?? d.cpuPerTxnMs, 3],
  ['event-loop thread CPU ms per msg (txn: per txn)', (d) => d.mainPerMsgMs ?? d.mainPerTxnMs, 3],
  ['librdkafka threads CPU ms per msg', (d) => d.threadMs.rdk / (d.consumedInWindow ?? d.n), 3],
  ['ELU', (d) => d.elu, 2],
];
const out = [];
out.push(`| scenario | client | ${cols.map((c) => c[0]).join(' | ')} |`);
out.push(`|${'---|'.repeat(cols.length + 2)}`);
for (const sc of scenarios) {
  for (const c of clients) {
    const rows = results.filter((d) => d.sc === sc && d.client === c);
    if (!rows.length) continue;
    const cells = cols.map(([, get, d]) =>
      get
        ? cell(rows, get, d)
        : sc === 'txn'
          ? `${cell(rows, (x) => x.visibleP50, 1)} / ${cell(rows, (x) => x.visibleP99, 1)}`
          : '–',
    );
    out.push(`| ${sc} | ${c} | ${cells.join(' | ')} |`);
  }
}
console.log(out.join('\n'));
console.log(`\n${results.length} runs, rounds=${rounds}; raw: ${log}`);
