import { startChatCompletionsStandIn } from '#apps/worker/src/agent/chat-completions-stand-in.js';
import { reply, startTestHttpServer } from '#apps/worker/src/http/test-http-server.js';
import { LOCAL_BOOTSTRAP_ADMIN_KEY, type AppConfig } from '#libs/config';
import { createPool } from '#libs/db';
import { ApiClient } from '../support/api-client.js';
import { measureCpu } from '../support/cpu.js';
import type { ProfileWindow } from '../support/cpu-profile.js';
import { progress } from '../support/progress.js';
import { Resources } from '../support/resources.js';
import { createSandbox } from '../support/sandbox.js';
import { scrapeSnapshot, type Snapshot } from '../support/service-metrics.js';
import { startService } from '../support/service.js';
import type { CacheBenchSettings } from '../support/settings.js';
import { BENCH_DEFINITION } from '../support/workflows.js';

/** The workloads: an agent node asked similar questions, an http_request node fetching one slow resource. */
export type CacheWorkload = 'agent' | 'http';
/** off: no cache; exact: the node result cache (Redis); semantic: that, then the agent nodes' semantic cache. */
export type CacheMode = 'off' | 'exact' | 'semantic';

export interface CacheRunsRun {
  readonly workload: CacheWorkload;
  readonly mode: CacheMode;
  /** From the first user's POST to the last user's run read as finished, users one after another. */
  readonly totalMs: number;
  /** Each user's run: from its POST to its finished_at in the projection (driver clock). */
  readonly perUserMs: readonly number[];
  /** Calls the slow upstream (model or HTTP server) received from the users' runs. */
  readonly upstreamCalls: number;
  /** Calls to the embeddings API (semantic mode: one per lookup). */
  readonly embeddingCalls: number;
  /** Tokens the stand-in model billed for those calls (agent). */
  readonly tokensBilled: number;
  /** The worker's node_task_duration_seconds over the users' runs: the time spent in the node, cache included. */
  readonly nodeMeanMs: number;
  /** Runs the cache served, per the worker's cache_lookups_total. */
  readonly hits: number;
  /**
   * CPU milliseconds per run: the service process, Postgres, Kafka and the registry (java), less what each used while
   * idle for as long (measured just after the users): an idle service still polls (relay, timers, consumers' fetches),
   * which over seconds of waiting on a slow upstream would otherwise swamp the work.
   */
  readonly cpuMsPerRun: { readonly service: number; readonly postgres: number; readonly java: number };
  /** Cores the service used while idle. */
  readonly idleServiceCores: number;
  readonly notCompleted: number;
  /** For CPU profiles (BENCH_CPU_PROF_DIR): the service pid and the users' window on the monotonic clock (µs). */
  readonly profileWindow: ProfileWindow;
}

const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

const LLM_KEY = 'bench-llm-key';
const SYSTEM = 'You are a concise financial analyst. Answer in two sentences.';

/**
 * The users' questions: the same request worded a little differently each time, as colleagues ask it. The exact cache
 * sees ten different prompts; the semantic cache sees one question.
 */
export const SIMILAR_QUESTIONS: readonly string[] = [
  'What were the main drivers of revenue growth in the third quarter?',
  'What were the main drivers of revenue growth in the third quarter',
  'what were the main drivers of revenue growth in the third quarter?',
  'What were the main drivers of the revenue growth in the third quarter?',
  'What were the main drivers of revenue growth in the third quarter ?',
  'What were the main drivers of revenue growth in the 3rd quarter?',
  'What were the key drivers of revenue growth in the third quarter?',
  'What were the main drivers of revenue growth during the third quarter?',
  'What were the main drivers for revenue growth in the third quarter?',
  'WHAT WERE THE MAIN DRIVERS OF REVENUE GROWTH IN THE THIRD QUARTER?',
];

const question = (user: number) => SIMILAR_QUESTIONS[user % SIMILAR_QUESTIONS.length] as string;

function definition(workload: CacheWorkload, upstream: string): unknown {
  if (workload === 'agent') {
    return {
      nodes: {
        answer: {
          type: 'agent',
          config: { model: 'bench-model', system: SYSTEM, prompt: '{{ input.question }}', maxTokens: 200 },
        },
      },
      edges: [],
    };
  }
  return {
    nodes: { quote: { type: 'http_request', config: { method: 'GET', url: `${upstream}/quotes/ACME` } } },
    edges: [],
  };
}

/** The service's settings for the mode; the stand-in model serves the embeddings API too. */
export function modeEnv(mode: CacheMode, upstream: string): Record<string, string> {
  if (mode === 'off') return { CACHE_ENABLED: 'false' };
  if (mode === 'exact') return { CACHE_ENABLED: 'true', SEMANTIC_CACHE_ENABLED: 'false' };
  return {
    CACHE_ENABLED: 'true',
    SEMANTIC_CACHE_ENABLED: 'true',
    EMBEDDINGS_BASE_URL: upstream,
    EMBEDDINGS_API_KEY: LLM_KEY,
  };
}

interface Upstream {
  readonly origin: string;
  calls(): number;
  embeddings(): number;
  tokens(): number;
  close(): Promise<void>;
}

async function startUpstream(workload: CacheWorkload, settings: CacheBenchSettings): Promise<Upstream> {
  if (workload === 'agent') {
    const llm = await startChatCompletionsStandIn(LLM_KEY, { delayMs: settings.llmLatencyMs });
    return {
      origin: llm.baseUrl,
      calls: () => llm.completions.length,
      embeddings: () => llm.embeddings.length,
      // The stand-in bills a token per word, as its answers' usage says.
      tokens: () =>
        llm.completions.reduce(
          (sum, c) => sum + c.messages.reduce((n, m) => n + m.content.split(/\s+/).filter(Boolean).length, 0),
          0,
        ),
      close: () => llm.close(),
    };
  }
  const server = await startTestHttpServer((_request, response) => {
    setTimeout(
      () => reply(response, 200, 'application/json', JSON.stringify({ symbol: 'ACME', price: 123.45 })),
      settings.httpLatencyMs,
    );
  });
  return {
    origin: server.origin,
    calls: () => server.requests.length,
    embeddings: () => 0,
    tokens: () => 0,
    close: () => server.close(),
  };
}

/** How long the service's idle CPU is measured, after the users. */
const IDLE_WINDOW_MS = 3_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts a run and waits for the projection to say it finished; its status, and the time the client waited. */
async function runOnce(
  client: ApiClient,
  pool: ReturnType<typeof createPool>,
  workflowId: string,
  input: unknown,
): Promise<{ status: string; ms: number }> {
  const started = performance.now();
  const { runId } = await client.postExpecting<{ runId: string }>(202, `/v1/workflows/${workflowId}/runs`, { input });
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(2)) {
    const { rows } = await pool.query<{ status: string }>(
      'SELECT status FROM runs WHERE id = $1 AND finished_at IS NOT NULL',
      [runId],
    );
    if (rows[0]) return { status: rows[0].status, ms: performance.now() - started };
  }
  throw new Error(`run ${runId} did not finish within 60 s`);
}

const metric = (snapshot: Snapshot, name: string, labels: Record<string, string> = {}) =>
  snapshot.series
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);

/**
 * The document's team scenario: `settings.users` users of one workspace run the same one-node workflow one after
 * another (agent: similar questions; http: the same GET), on a fresh sandbox and service per measurement. A warm-up
 * run of another workflow first, so that every consumer group has joined before the first user.
 */
export async function measureCacheRuns(
  base: AppConfig,
  settings: CacheBenchSettings,
  workload: CacheWorkload,
  mode: CacheMode,
  run: number,
): Promise<CacheRunsRun> {
  const resources = new Resources();
  try {
    progress(`${workload}, cache ${mode}, run ${run}: setting up`);
    const sandbox = await createSandbox(base, `cache_${workload}_${mode}${run}`, settings.partitions, resources);
    const upstream = await startUpstream(workload, settings);
    resources.defer('upstream', () => upstream.close());
    const service = await startService(
      sandbox,
      ['api', 'outbox-relay', 'coordinator', 'run-projector', 'worker'],
      { serviceLogLevel: settings.serviceLogLevel, cpuProfileDir: settings.cpuProfileDir },
      resources,
      {
        WORKER_TYPES: workload === 'agent' ? 'function,agent' : 'function,http_request',
        LLM_BASE_URL: workload === 'agent' ? upstream.origin : 'http://127.0.0.1:9/v1',
        LLM_API_KEY: LLM_KEY,
        SSRF_ALLOWED_HOSTS: '127.0.0.1',
        ...modeEnv(mode, upstream.origin),
      },
    );
    const client = new ApiClient(service.origin, 4, LOCAL_BOOTSTRAP_ADMIN_KEY);
    resources.defer('api client', () => client.close());
    const pool = createPool(sandbox.databaseUrl, { max: 2, name: 'bench-cache-runs' });
    resources.defer('pool', () => pool.end());

    const warmup = await client.postExpecting<{ id: string }>(201, '/v1/workflows', {
      name: 'warm-up',
      definition: BENCH_DEFINITION,
    });
    await runOnce(client, pool, warmup.id, { x: 1 });
    const workflow = await client.postExpecting<{ id: string }>(201, '/v1/workflows', {
      name: `${workload}-team`,
      definition: definition(workload, upstream.origin),
    });
    const callsBefore = upstream.calls();
    const embeddingsBefore = upstream.embeddings();
    const tokensBefore = upstream.tokens();
    const before = await scrapeSnapshot(client);
    const cpu = measureCpu(service.pid, sandbox.id);
    const started = performance.now();
    const fromUs = monotonicUs();
    const perUserMs: number[] = [];
    let notCompleted = 0;
    for (let user = 0; user < settings.users; user++) {
      const input = workload === 'agent' ? { question: question(user), user } : { user };
      const { status, ms } = await runOnce(client, pool, workflow.id, input);
      perUserMs.push(ms);
      if (status !== 'completed') notCompleted++;
    }
    const totalMs = performance.now() - started;
    const toUs = monotonicUs();
    const share = cpu();
    const after = await scrapeSnapshot(client);
    // Measured after the users rather than before: right after the warm-up the projector and the consumer groups may
    // still be settling, which would count as idle and hide work.
    const idle = measureCpu(service.pid, sandbox.id);
    await sleep(IDLE_WINDOW_MS);
    const idleShare = idle();
    const delta = (name: string, labels?: Record<string, string>) =>
      metric(after, name, labels) - metric(before, name, labels);
    const nodeType = workload === 'agent' ? 'agent' : 'http_request';
    const tasks = delta('node_task_duration_seconds_count', { type: nodeType });
    const perRunCpuMs = (cores: number, idleCores: number) =>
      (Math.max(0, cores - idleCores) * totalMs) / settings.users;
    progress(`${workload}, cache ${mode}, run ${run}: ${totalMs.toFixed(0)} ms`);
    return {
      workload,
      mode,
      totalMs,
      perUserMs,
      upstreamCalls: upstream.calls() - callsBefore,
      embeddingCalls: upstream.embeddings() - embeddingsBefore,
      tokensBilled: upstream.tokens() - tokensBefore,
      nodeMeanMs: tasks ? (delta('node_task_duration_seconds_sum', { type: nodeType }) / tasks) * 1000 : NaN,
      hits: delta('cache_lookups_total', { node_type: nodeType, outcome: 'hit' }),
      cpuMsPerRun: {
        service: perRunCpuMs(share.service, idleShare.service),
        postgres: perRunCpuMs(share.postgres, idleShare.postgres),
        java: perRunCpuMs(share.java, idleShare.java),
      },
      idleServiceCores: idleShare.service,
      notCompleted,
      profileWindow: { pids: [service.pid], fromUs, toUs },
    };
  } finally {
    await resources.release();
  }
}
