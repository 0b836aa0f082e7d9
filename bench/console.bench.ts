import { performance } from 'node:perf_hooks';
import { chromium, type Browser } from 'playwright-core';
import { LOCAL_BOOTSTRAP_ADMIN_KEY } from '#libs/config';
import { foldPatches, type WorkflowDefinition } from '#libs/workflows';
import { CHROMIUM_PATH } from '#test/support/browser.js';
import { buildConsole } from '#apps/console/src/build-console.js';
import { measureCpu } from './support/cpu.js';
import { progress } from './support/progress.js';
import { figuresJson, table, type Figure } from './support/report.js';
import { Resources, runBenchmark } from './support/resources.js';
import { createSandbox } from './support/sandbox.js';
import { startService } from './support/service.js';
import { prepareBenchmark } from './support/stack-check.js';
import { summarize } from './support/stats.js';

/**
 * `npm run bench:console`: the web console materializing a workflow in the browser (Debian's chromium), against the
 * API alone (no materializer runs, so every patch stays pending and is folded by the page's Web Worker). Per size:
 * the fold in the worker, the longest main-thread task meanwhile (Long Tasks API), the time from opening the workflow to
 * its DAG on screen, and the API's CPU per view against what folding the same view on the server would add. Medians of
 * BENCH_RUNS runs. Needs the local stack up (`npm run stack:up`).
 */

const write = (text: string) => process.stdout.write(`${text}\n`);
const ADMIN_KEY = process.env.BOOTSTRAP_ADMIN_KEY || LOCAL_BOOTSTRAP_ADMIN_KEY;

interface Settings {
  readonly runs: number;
  readonly sizes: readonly number[];
  readonly views: number;
}

function readSettings(env: NodeJS.ProcessEnv): Settings {
  const runs = Number(env.BENCH_RUNS ?? 3);
  const sizes = (env.BENCH_PATCHES ?? '100,1000').split(',').map(Number);
  const views = Number(env.BENCH_VIEWS ?? 20);
  if (![runs, views, ...sizes].every((n) => Number.isInteger(n) && n > 0)) {
    throw new Error('BENCH_RUNS, BENCH_VIEWS and BENCH_PATCHES (comma-separated) must be positive integers');
  }
  return { runs, sizes, views };
}

/** Patch i: the first 300 add a node each, the rest change one of them (the definition stays under MAX_NODES). */
const patchOps = (i: number) =>
  i <= 300
    ? [{ op: 'add', path: `/nodes/n${i}`, value: { type: 'delay', config: { ms: i } } }]
    : [{ op: 'replace', path: `/nodes/n${(i % 300) + 1}/config/ms`, value: i }];

async function seed(origin: string, patches: number): Promise<string> {
  const call = async (path: string, body: unknown) => {
    const response = await fetch(`${origin}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as { id: string };
  };
  const definition = { nodes: { start: { type: 'function', config: { expression: '1' } } }, edges: [] };
  const { id } = await call('/v1/workflows', { name: `console-bench-${patches}`, definition });
  // In order (seq order is what folding follows), a few in flight at a time.
  for (let i = 1; i <= patches; i += 16) {
    await Promise.all(
      Array.from({ length: Math.min(16, patches - i + 1) }, (_, k) =>
        call(`/v1/workflows/${id}/patches`, { ops: patchOps(i + k) }),
      ),
    );
  }
  return id;
}

/** Runs in the page (a function, not a string: the console's CSP forbids eval). */
const dagShown = () => (globalThis as { __dagAt?: number }).__dagAt !== undefined;

interface ViewFigures {
  foldMs: number;
  openToDagMs: number;
  longestTaskMs: number;
  coldOpenMs: number;
  apiCpuMsPerView: number;
  serverFoldCpuMs: number;
}

async function measureView(
  browser: Browser,
  origin: string,
  workflowId: string,
  apiPid: number,
  database: string,
  views: number,
): Promise<ViewFigures> {
  const context = await browser.newContext();
  await context.addInitScript(`
    sessionStorage.setItem('orchestrator.apiKey', ${JSON.stringify(ADMIN_KEY)});
    window.__longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__longTasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: true });
    // When the DAG is first in the document, in ms since the navigation (or since window.__openedAt, when set).
    const watcher = new MutationObserver(() => {
      if (window.__dagAt === undefined && document.querySelector('[data-testid=dag-nodes] li[data-node]')) window.__dagAt = performance.now();
    });
    watcher.observe(document, { subtree: true, childList: true });
  `);
  const page = await context.newPage();
  const workflowUrl = `${origin}/#/workflows/${workflowId}`;
  // Warm the HTTP cache (bundles are immutable), as for anyone's second visit.
  await page.goto(workflowUrl);
  await page.waitForSelector('[data-testid=dag-nodes] li[data-node]', { timeout: 60_000, state: 'attached' });

  // Cold: the workflow's URL opened in a new tab, from navigation to the DAG in the document.
  const cold = await context.newPage();
  await cold.goto(workflowUrl);
  await cold.waitForFunction(dagShown, undefined, { timeout: 60_000, polling: 250 });
  const coldOpenMs = await cold.evaluate<number>('window.__dagAt');
  await cold.close();

  // Warm: from the workflow list of a loaded console, a click on the workflow to its DAG.
  await page.goto(`${origin}/#/workflows`);
  await page.waitForSelector('table[data-testid=workflows]', { timeout: 60_000 });
  const trace = process.env.BENCH_TRACE_FILE;
  if (trace)
    await browser.startTracing(page, {
      path: trace,
      categories: [
        'devtools.timeline',
        'v8.execute',
        'disabled-by-default-devtools.timeline',
        'disabled-by-default-v8.cpu_profiler',
      ],
    });
  await page.evaluate(
    `window.__dagAt = undefined; window.__openedAt = performance.now(); location.hash = '#/workflows/${workflowId}'`,
  );
  await page.waitForFunction(dagShown, undefined, { timeout: 60_000, polling: 250 });
  await page.waitForSelector('[data-testid=materialized][data-fold-ms]', { timeout: 60_000 });
  const openToDagMs = await page.evaluate<number>('window.__dagAt - window.__openedAt');
  if (trace) await browser.stopTracing();
  const foldMs = Number(await page.getAttribute('[data-testid=materialized]', 'data-fold-ms'));
  const attribute = (name: string) => page.getAttribute('[data-testid=materialized]', name);
  progress(
    `  in the worker: fetch ${await attribute('data-fetch-ms')} ms, fold ${await attribute('data-fold-ms')} ms, ` +
      `layout ${await attribute('data-layout-ms')} ms, draw ${await attribute('data-draw-ms')} ms; request to result ${await attribute('data-total-ms')} ms`,
  );
  // Long tasks that ended after this view's materializing began (the fold, the layout, drawing the DAG).
  const longestTaskMs = await page.evaluate<number>(`(() => {
    const start = performance.getEntriesByName('materialize-start').at(-1)?.startTime ?? 0;
    return Math.max(0, ...window.__longTasks.filter((t) => t.start + t.duration >= start).map((t) => t.duration));
  })()`);

  // The API's CPU per view: the page reloaded `views` times while the API process's CPU is counted.
  const cpu = measureCpu(apiPid, database);
  const window = performance.now();
  for (let i = 0; i < views; i++) {
    await page.reload();
    await page.waitForSelector('[data-testid=dag-nodes] li[data-node]', { timeout: 60_000, state: 'attached' });
  }
  const apiCpuMsPerView = (cpu().service * (performance.now() - window)) / views;
  await context.close();

  // What the server would spend folding the same view itself (same patch engine, same source).
  const source = (await (
    await fetch(`${origin}/v1/workflows/${workflowId}/materialization`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    })
  ).json()) as {
    snapshot: { definition: WorkflowDefinition; appliedThroughSeq: number };
    patches: { patchId: string; seq: number; ops: never[] }[];
    foldOptions: { maxBytes: number; maxDepth: number; allowedHosts: string[] };
  };
  const reps = 5;
  const before = process.cpuUsage();
  for (let i = 0; i < reps; i++) {
    foldPatches(
      source.snapshot,
      source.patches.map((p) => ({ id: p.patchId, seq: p.seq, ops: p.ops })),
      source.foldOptions,
    );
  }
  const used = process.cpuUsage(before);
  return {
    foldMs,
    openToDagMs,
    longestTaskMs,
    coldOpenMs,
    apiCpuMsPerView,
    serverFoldCpuMs: (used.user + used.system) / 1000 / reps,
  };
}

async function main(): Promise<void> {
  const prepared = await prepareBenchmark((env) => readSettings(env));
  if (!prepared) return;
  const { base, settings } = prepared;
  await buildConsole();
  const resources = new Resources();
  const measured = new Map<number, ViewFigures[]>(settings.sizes.map((n) => [n, []]));
  try {
    const sandbox = await createSandbox(base, 'console', 3, resources);
    // The fanout serves the page's workflow stream; no materializer runs, so every patch stays pending.
    const api = await startService(
      sandbox,
      ['api', 'fanout'],
      { serviceLogLevel: 'warn', cpuProfileDir: undefined },
      resources,
    );
    const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--no-sandbox'], headless: true });
    resources.defer('chromium', () => browser.close());
    const database = new URL(sandbox.databaseUrl).pathname.slice(1);
    for (const size of settings.sizes) {
      progress(`seeding a workflow with ${size} pending patches`);
      const workflowId = await seed(api.origin, size);
      for (let run = 1; run <= settings.runs; run++) {
        progress(`${size} patches: run ${run}/${settings.runs}`);
        measured.get(size)?.push(await measureView(browser, api.origin, workflowId, api.pid, database, settings.views));
      }
    }
  } finally {
    await resources.release();
  }
  const figures: Figure[] = settings.sizes.flatMap((size) => {
    const runs = measured.get(size) ?? [];
    const figure = (key: keyof ViewFigures, label: string, decimals = 1, target?: Figure['target']): Figure => ({
      key: `${key}_${size}`,
      label: `${size} patches: ${label}`,
      unit: 'ms',
      summary: summarize(runs.map((r) => r[key])),
      decimals,
      ...(target ? { target } : {}),
    });
    return [
      figure('foldMs', 'fold in the Web Worker'),
      figure('longestTaskMs', 'longest main-thread task while materializing', 1, {
        text: '< 50 ms',
        met: (m) => m < 50,
      }),
      figure('openToDagMs', 'open the workflow from the list → DAG on screen'),
      figure('coldOpenMs', "open the workflow's URL in a new tab → DAG on screen"),
      figure('apiCpuMsPerView', 'API CPU per console view', 2),
      figure('serverFoldCpuMs', 'CPU the server would add to fold it', 2),
    ];
  });
  write(`bench:console ${new Date().toISOString()} (chromium ${CHROMIUM_PATH}, ${settings.runs} runs)`);
  write(table(figures));
  write(JSON.stringify({ bench: 'console', at: new Date().toISOString(), figures: figuresJson(figures) }));
}

await runBenchmark(main);
