import { cpus } from 'node:os';
import type { AppConfig } from '#libs/config';
import { LOCAL_BOOTSTRAP_ADMIN_KEY } from '#libs/config';
import { ApiClient } from './support/api-client.js';
import { startApi } from './support/api-process.js';
import { startHttpProcess } from './support/service.js';
import { API_VARIANTS, readApiSettings, type ApiBenchSettings, type ApiTarget } from './support/api-settings.js';
import { cannon, type CannonOptions, type CannonResult } from './support/autocannon-load.js';
import { idleBusy } from './support/cpu.js';
import { progress } from './support/progress.js';
import { figuresJson, round, table, type Figure } from './support/report.js';
import { Resources, runBenchmark } from './support/resources.js';
import { createSandbox } from './support/sandbox.js';
import { summarize } from './support/stats.js';
import { prepareBenchmark, type StackFacts } from './support/stack-check.js';
import { createWorkflows, rewritePatch } from './support/workflows.js';

/**
 * `npm run bench:api`: the API under autocannon with its runtime settings off and on (bench/support/api-settings.ts),
 * GET /health and a patch POST, beside a bare node:http server answering /health loaded the same way in the same run.
 * Each run gets a fresh sandbox (database, topics); the variants' order rotates from run to run, so none always goes
 * first on a cold database. Progress on stderr; stdout gets the table and, last, one JSON line.
 */

type Subject = keyof typeof API_VARIANTS | 'baseline';
interface Sample {
  readonly run: number;
  readonly subject: Subject;
  readonly target: ApiTarget;
  readonly result: CannonResult;
}

const write = (text: string) => process.stdout.write(`${text}\n`);
const rotate = <T>(items: readonly T[], by: number) => items.map((_, i) => items[(i + by) % items.length] as T);

async function warmAndMeasure(options: Omit<CannonOptions, 'durationS'>, settings: ApiBenchSettings) {
  if (settings.warmupS > 0) await cannon({ ...options, durationS: settings.warmupS });
  return cannon({ ...options, durationS: settings.durationS });
}

async function measureRun(base: AppConfig, settings: ApiBenchSettings, run: number): Promise<Sample[]> {
  const samples: Sample[] = [];
  const record = (subject: Subject, target: ApiTarget, result: CannonResult) => {
    progress(
      `run ${run} ${subject} ${target}: ${result.okPerS.toFixed(0)} ok/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms` +
        (result.non2xx || result.errors ? `, ${result.non2xx} non-2xx, ${result.errors} errors` : ''),
    );
    samples.push({ run, subject, target, result });
  };
  const load = { connections: settings.connections };
  const resources = new Resources();
  try {
    if (settings.targets.includes('health')) {
      const bare = new Resources();
      try {
        const server = await startHttpProcess('dist/bench/support/bare-health.main.js', {}, bare);
        record(
          'baseline',
          'health',
          await warmAndMeasure({ ...load, origin: server.origin, path: '/health' }, settings),
        );
      } finally {
        await bare.release();
      }
    }
    const sandbox = await createSandbox(base, `api${run}`, settings.partitions, resources);
    let workflows: string[] | undefined;
    for (const variant of rotate(settings.variants, run - 1)) {
      const step = new Resources();
      try {
        const api = await startApi(sandbox, API_VARIANTS[variant], settings.serviceLogLevel, step);
        progress(`run ${run}: ${variant} up (${api.origin})`);
        const variantLoad = { connections: settings.connections };
        const headers = { authorization: `Bearer ${LOCAL_BOOTSTRAP_ADMIN_KEY}`, 'content-type': 'application/json' };
        if (settings.targets.includes('patch') && !workflows) {
          const client = new ApiClient(api.origin, 16, LOCAL_BOOTSTRAP_ADMIN_KEY);
          workflows = await createWorkflows(client, settings.workflows, 'bench-api').finally(() => client.close());
        }
        for (const target of settings.targets) {
          if (target === 'health') {
            record(
              variant,
              target,
              await warmAndMeasure({ ...variantLoad, origin: api.origin, path: '/health' }, settings),
            );
          } else {
            const ids = workflows ?? [];
            let n = 0;
            const nextPost = () => {
              n++;
              return {
                path: `/v1/workflows/${ids[n % ids.length]}/patches`,
                body: JSON.stringify(rewritePatch(n)),
              };
            };
            record(
              variant,
              target,
              await warmAndMeasure({ ...variantLoad, origin: api.origin, headers, nextPost }, settings),
            );
          }
        }
      } finally {
        await step.release();
      }
    }
  } finally {
    await resources.release();
  }
  return samples;
}

function figures(samples: readonly Sample[], settings: ApiBenchSettings): Figure[] {
  const list: Figure[] = [];
  const subjects: Subject[] = ['baseline', ...settings.variants];
  const of = (subject: Subject, target: ApiTarget) =>
    samples.filter((s) => s.subject === subject && s.target === target);
  for (const target of settings.targets) {
    for (const subject of subjects) {
      const runs = of(subject, target);
      if (!runs.length) continue;
      const name = `${target === 'health' ? 'GET /health' : 'POST patch'} ${subject}`;
      const key = `${target}.${subject}`;
      const each = (pick: (r: CannonResult) => number) => summarize(runs.map((s) => pick(s.result)));
      list.push({
        key: `${key}.ok_per_s`,
        label: `${name}: 2xx/s`,
        unit: 'req/s',
        decimals: 0,
        summary: each((r) => r.okPerS),
      });
      list.push({
        key: `${key}.p50_ms`,
        label: `${name}: latency p50`,
        unit: 'ms',
        decimals: 1,
        summary: each((r) => r.p50Ms),
      });
      list.push({
        key: `${key}.p99_ms`,
        label: `${name}: latency p99`,
        unit: 'ms',
        decimals: 1,
        summary: each((r) => r.p99Ms),
      });
      if (target === 'health' && subject !== 'baseline') {
        // Per run, against that run's baseline: the machine's mood that minute divides out.
        const ratios = runs.flatMap((s) => {
          const baseline = of('baseline', 'health').find((b) => b.run === s.run);
          return baseline ? [s.result.okPerS / baseline.result.okPerS] : [];
        });
        list.push({
          key: `${key}.of_baseline`,
          label: `${name}: ÷ baseline`,
          unit: '×',
          decimals: 3,
          summary: summarize(ratios),
        });
      }
    }
  }
  return list;
}

function headerLines(settings: ApiBenchSettings, facts: StackFacts, busy: number): string[] {
  return [
    `bench:api  ${new Date().toISOString()}  node ${process.version}  ${cpus().length} cores  busy before start ${busy.toFixed(2)} cores  postgres ${facts.postgresVersion}`,
    `autocannon: ${settings.connections} connections, no pipelining, ${settings.warmupS} s warm-up + ${settings.durationS} s measured per figure; ${settings.runs} runs, medians (min–max)`,
    'variants: ' +
      settings.variants
        .map(
          (v) =>
            `${v} = ${Object.entries(API_VARIANTS[v])
              .map(([k, x]) => `${k}=${x}`)
              .join(' ')}`,
        )
        .join('; '),
    'baseline: a bare node:http server answering /health (bench/support/bare-health.main.ts), same load, same run',
  ];
}

async function main(): Promise<void> {
  const prepared = await prepareBenchmark(readApiSettings);
  if (!prepared) return;
  const { base, settings, facts } = prepared;
  const busy = await idleBusy(1_000);
  headerLines(settings, facts, busy).forEach((line) => write(line));
  write('');
  const started = performance.now();
  const samples: Sample[] = [];
  for (let run = 1; run <= settings.runs; run++) samples.push(...(await measureRun(base, settings, run)));
  const list = figures(samples, settings);
  write(table(list));
  const failures = samples.filter((s) => s.result.non2xx || s.result.errors);
  for (const s of failures) {
    write(
      `run ${s.run} ${s.subject} ${s.target}: ${s.result.non2xx} non-2xx answers, ${s.result.errors} connection errors`,
    );
  }
  const seconds = (performance.now() - started) / 1000;
  write(`took ${seconds.toFixed(0)} s`);
  write(
    JSON.stringify({
      benchmark: 'api-runtime',
      at: new Date().toISOString(),
      settings,
      results: figuresJson(list),
      failures: failures.map((s) => ({
        run: s.run,
        subject: s.subject,
        target: s.target,
        non2xx: s.result.non2xx,
        errors: s.result.errors,
      })),
      seconds: round(seconds),
    }),
  );
}

await runBenchmark(main);
