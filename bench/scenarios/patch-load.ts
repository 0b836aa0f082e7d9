import { LOCAL_BOOTSTRAP_ADMIN_KEY, type AppConfig } from '#libs/config';
import { createPool, type Pool } from '#libs/db';
import { ApiClient } from '../support/api-client.js';
import { measureCpu, type CpuShare } from '../support/cpu.js';
import { runClosedLoop } from '../support/http-load.js';
import { progress } from '../support/progress.js';
import { Resources } from '../support/resources.js';
import { createSandbox } from '../support/sandbox.js';
import { diagnose, scrape, type ServiceDiagnostics } from '../support/service-metrics.js';
import { startService } from '../support/service.js';
import type { BenchSettings } from '../support/settings.js';
import { percentile } from '../support/stats.js';
import { createWorkflows, rewritePatch } from '../support/workflows.js';

export interface PatchLoadRun {
  readonly acceptedPerSecond: number;
  readonly accepted: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  readonly failures: Record<string, number>;
  /** 202 (patch committed) to decided, from the patches' own timestamps. */
  readonly lagP50Ms: number;
  readonly lagP99Ms: number;
  readonly lagMaxMs: number;
  /** From the end of the load until no patch was pending. */
  readonly drainMs: number;
  /** Patches per accepting transaction (group commit), from the distinct created_at of the measured patches. */
  readonly patchesPerAcceptTransaction: number;
  /** Applied patches per new workflow version (each version is a snapshot row and a workflow.materialized event). */
  readonly patchesPerVersion: number;
  readonly cpu: CpuShare;
  readonly service: ServiceDiagnostics;
}

/**
 * Scenarios 1 and 2: the whole pipeline (api + outbox-relay + materializer in a child process) under a closed-loop
 * POST load over many workflows; then, once every patch is decided, the materialization lag of the measured patches.
 */
export async function measurePatchLoad(base: AppConfig, settings: BenchSettings, run: number): Promise<PatchLoadRun> {
  const resources = new Resources();
  try {
    const sandbox = await createSandbox(base, `load${run}`, settings.partitions, resources);
    const service = await startService(sandbox, ['api', 'outbox-relay', 'materializer'], settings, resources);
    const client = new ApiClient(service.origin, settings.concurrency, LOCAL_BOOTSTRAP_ADMIN_KEY);
    resources.defer('http client', () => client.close());
    const pool = createPool(sandbox.databaseUrl, { name: 'bench-load', max: 2 });
    resources.defer('pool', () => pool.end());

    const workflows = await createWorkflows(client, settings.workflows, 'load');
    let sent = 0;
    const next = () => {
      const n = sent++;
      return {
        path: `/v1/workflows/${workflows[n % workflows.length]}/patches`,
        body: JSON.stringify(rewritePatch(n)),
      };
    };
    if (settings.warmupMs > 0) {
      await runClosedLoop(client, { concurrency: settings.concurrency, durationMs: settings.warmupMs, next });
    }
    const metricsBefore = await scrape(client);
    const since = new Date();
    const cpu = measureCpu(service.pid, sandbox.id);
    const load = await runClosedLoop(client, {
      concurrency: settings.concurrency,
      durationMs: settings.durationMs,
      next,
    });
    const cpuShare = cpu();
    const diagnostics = diagnose(metricsBefore, await scrape(client), load.elapsedMs);

    const drainStarted = performance.now();
    await untilNonePending(pool, settings.drainTimeoutMs);
    const drainMs = performance.now() - drainStarted;
    const lag = await materializationLag(pool, since);
    if (lag.patches !== load.accepted) {
      progress(`warning: ${load.accepted} patches accepted in the window but ${lag.patches} stored since it began`);
    }
    const result: PatchLoadRun = {
      acceptedPerSecond: load.accepted / (load.elapsedMs / 1000),
      accepted: load.accepted,
      latencyP50Ms: percentile(load.latenciesMs, 0.5),
      latencyP99Ms: percentile(load.latenciesMs, 0.99),
      failures: Object.fromEntries(load.failures),
      lagP50Ms: lag.p50Ms,
      lagP99Ms: lag.p99Ms,
      lagMaxMs: lag.maxMs,
      drainMs,
      patchesPerAcceptTransaction: lag.patches / lag.acceptTransactions,
      patchesPerVersion: lag.patches / lag.versions,
      cpu: cpuShare,
      service: diagnostics,
    };
    progress(
      `load run ${run}: ${result.acceptedPerSecond.toFixed(0)} patches/s, 202 p50 ${result.latencyP50Ms.toFixed(1)} ms ` +
        `p99 ${result.latencyP99Ms.toFixed(1)} ms, lag p50 ${result.lagP50Ms.toFixed(0)} ms p99 ${result.lagP99Ms.toFixed(0)} ms, ` +
        `drained in ${drainMs.toFixed(0)} ms${load.failures.size ? `, failures ${JSON.stringify(result.failures)}` : ''}`,
    );
    return result;
  } finally {
    await resources.release();
  }
}

async function untilNonePending(pool: Pool, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM patches WHERE status = 'pending'");
    const pending = rows[0]?.n ?? 0;
    if (!pending) return;
    if (performance.now() > deadline) throw new Error(`${pending} patches still pending after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface StoredFigures {
  readonly patches: number;
  /** now() is the transaction's start time, so the patches of one group commit share their created_at. */
  readonly acceptTransactions: number;
  readonly versions: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/**
 * What the database says about the patches accepted since `since`: how many, in how many transactions, how many
 * versions they made, and the lag from created_at (set in the accepting transaction) to decided_at (set in the
 * materializing one).
 */
async function materializationLag(pool: Pool, since: Date): Promise<StoredFigures> {
  const { rows } = await pool.query<StoredFigures>(
    `SELECT count(*)::int AS "patches",
            count(DISTINCT created_at)::int AS "acceptTransactions",
            (SELECT count(*)::int FROM workflow_versions WHERE created_at >= $1) AS "versions",
            percentile_cont(0.5) WITHIN GROUP (ORDER BY lag) AS "p50Ms",
            percentile_cont(0.99) WITHIN GROUP (ORDER BY lag) AS "p99Ms",
            max(lag) AS "maxMs"
       FROM (SELECT created_at, extract(epoch FROM decided_at - created_at)::float8 * 1000 AS lag
               FROM patches WHERE created_at >= $1) measured`,
    [since],
  );
  const row = rows[0];
  if (!row) throw new Error('no lag figures');
  return row;
}
