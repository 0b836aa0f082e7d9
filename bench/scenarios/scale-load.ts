import { LOCAL_BOOTSTRAP_ADMIN_KEY, type AppConfig } from '#libs/config';
import { createPool, type Pool } from '#libs/db';
import { openAdmin } from '#libs/kafka';
import { ApiClient } from '../support/api-client.js';
import { groupMembers, groupStates, waitForStableGroups, type GroupExpectation } from '../support/consumer-groups.js';
import { budgetDelta, type CpuBudget, type CpuBudgetReading, type CpuBudgets } from '../support/cpu-budget.js';
import { measureCpuSplit, type CpuShare } from '../support/cpu.js';
import { progress } from '../support/progress.js';
import { Resources } from '../support/resources.js';
import { createSandbox, type Sandbox } from '../support/sandbox.js';
import { sandboxEnv, startHttpProcess, type HttpTarget } from '../support/service.js';
import type { ScaleBenchSettings } from '../support/settings.js';
import { CHAIN_DEFINITION, createWorkflows, rewritePatch } from '../support/workflows.js';
import {
  dbClock,
  FinishWatcher,
  firstRun,
  startClosedLoop,
  storedFigures,
  untilAllFinished,
  type RunEnd,
} from './run-load.js';

/** The roles this benchmark starts, each instance a process of its own from the role's entry point (as pm2 does). */
type Role = 'api' | 'outbox-relay' | 'run-projector' | 'coordinator' | 'worker' | 'materializer';

/** One budgeted instance over the measured window. */
export interface InstanceFigures {
  readonly role: Role;
  readonly index: number;
  /** Cores it used on average (cgroup CPU accounting) against its budget. */
  readonly cores: number;
  readonly budgetCores: number;
  /** CPU ms per completed run (runs) or per applied patch (patches). */
  readonly cpuMsPerUnit: number;
  /** Share of the CFS periods in which it was runnable that ended with its quota used up. */
  readonly throttledShare: number;
  /** Time its threads spent throttled, per second of window (can exceed 1000 with several runnable threads). */
  readonly throttledMsPerSecond: number;
}

/** One measurement of one step: N budgeted instances of each scaled role. */
export interface ScaleRun {
  readonly scenario: 'runs' | 'patches';
  readonly instances: number;
  /** Completed runs/s or applied patches/s over the window. */
  readonly perSecond: number;
  readonly units: number;
  readonly windowS: number;
  readonly budgeted: InstanceFigures[];
  /** Cores used by each unbudgeted support process (/proc), by role. */
  readonly support: Record<string, number>;
  readonly cpu: CpuShare;
  /** Whether the consumer groups kept the same members over the window (no rebalance). */
  readonly membersUnchanged: boolean;
  /** Patches: still pending when the window ended (0 means the backlog ran out and the figure is a lower bound). */
  readonly pendingAtEnd: number;
  /** Seconds from the first budgeted spawn until the groups were stable. */
  readonly stableAfterS: number;
  /** Runs: seconds of warm-up until one turnover of the runs in flight had finished. */
  readonly warmupS: number;
  /** Runs: the run latency (finished_at - created_at) p50 of runs created in the window. */
  readonly latencyP50Ms: number;
  readonly notCompleted: Record<string, number>;
  /** Patches: applied patches per new workflow version (how much each fold took at once). */
  readonly patchesPerVersion: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Budgeted extends HttpTarget {
  readonly role: Role;
  readonly index: number;
  readonly budget: CpuBudget;
}

/** Starts one role instance from its entry point, inside a fresh cgroup with `cores` of budget from its first instruction on. */
async function startBudgeted(
  sandbox: Sandbox,
  settings: ScaleBenchSettings,
  budgets: CpuBudgets,
  role: Role,
  index: number,
  env: Record<string, string>,
  resources: Resources,
): Promise<Budgeted> {
  const budget = budgets.create(`${process.pid}-${sandbox.id}-${role}-${index}`, settings.cpu);
  // Deferred first, so it is released after the process (Resources release in reverse order).
  resources.defer(`cgroup ${budget.name}`, () => budget.remove());
  const target = await startHttpProcess(
    `dist/apps/${role}/src/main.js`,
    { ...sandboxEnv(sandbox, settings.serviceLogLevel), ...env },
    resources,
    { name: `${role} ${index}`, onSpawn: (pid) => budget.add(pid) },
  );
  return { ...target, role, index, budget };
}

function startSupport(
  sandbox: Sandbox,
  settings: ScaleBenchSettings,
  role: Role,
  resources: Resources,
): Promise<HttpTarget & { role: Role }> {
  return startHttpProcess(`dist/apps/${role}/src/main.js`, sandboxEnv(sandbox, settings.serviceLogLevel), resources, {
    name: role,
  }).then((target) => ({ ...target, role }));
}

/** Readings of every budget and /proc CPU of every process, at the start of a window; the result ends it. */
function startWindow(budgeted: readonly Budgeted[], support: readonly (HttpTarget & { role: Role })[], db: string) {
  const before = budgeted.map((b) => b.budget.read());
  const cpu = measureCpuSplit(
    support.map((s) => s.pid),
    db,
  );
  const from = performance.now();
  return () => {
    const after = budgeted.map((b) => b.budget.read());
    const windowS = (performance.now() - from) / 1000;
    const split = cpu();
    return {
      windowS,
      deltas: budgeted.map((_, i) => budgetDelta(before[i] as CpuBudgetReading, after[i] as CpuBudgetReading)),
      cpu: split.share,
      support: Object.fromEntries(support.map((s, i) => [s.role, split.perService[i] ?? 0])),
    };
  };
}

function instanceFigures(
  budgeted: readonly Budgeted[],
  deltas: readonly CpuBudgetReading[],
  windowS: number,
  units: number,
): InstanceFigures[] {
  return budgeted.map((b, i) => {
    const d = deltas[i] as CpuBudgetReading;
    return {
      role: b.role,
      index: b.index,
      cores: d.usageNs / 1e9 / windowS,
      budgetCores: b.budget.cores,
      cpuMsPerUnit: units ? d.usageNs / 1e6 / units : Number.NaN,
      throttledShare: d.periods ? d.throttledPeriods / d.periods : 0,
      throttledMsPerSecond: d.throttledNs / 1e6 / windowS,
    };
  });
}

const sameMembers = (a: string[][], b: string[][]) => JSON.stringify(a) === JSON.stringify(b);

function describe(run: ScaleRun): string {
  const byRole = new Map<string, InstanceFigures[]>();
  for (const i of run.budgeted) byRole.set(i.role, [...(byRole.get(i.role) ?? []), i]);
  const roles = [...byRole]
    .map(
      ([role, list]) =>
        `${role} ${list.map((i) => `${i.cores.toFixed(2)}c/${(i.throttledShare * 100).toFixed(0)}%thr`).join(' ')}`,
    )
    .join(', ');
  const support = Object.entries(run.support)
    .map(([role, cores]) => `${role} ${cores.toFixed(2)}c`)
    .join(', ');
  return (
    `${run.scenario} N=${run.instances}: ${run.perSecond.toFixed(0)}/s; ${roles}; ${support}; postgres ` +
    `${run.cpu.postgres.toFixed(2)}c, java ${run.cpu.java.toFixed(2)}c, machine ${run.cpu.busy.toFixed(2)}/` +
    `${run.cpu.machineCores}` +
    (run.membersUnchanged ? '' : '; GROUP MEMBERS CHANGED IN THE WINDOW') +
    (run.scenario === 'patches' ? `; ${run.patchesPerVersion.toFixed(1)} patches per version` : '') +
    (Object.keys(run.notCompleted).length ? `; NOT COMPLETED ${JSON.stringify(run.notCompleted)}` : '')
  );
}

/**
 * Runs: N coordinators and N function workers, each in its own cgroup with BENCH_SCALE_CPU; api, outbox relay and run
 * projector one process each, unbudgeted. A closed loop of BENCH_RUN_CONCURRENCY 3-node chains (the driver polls the
 * projection for each run's end); completed runs/s over the window once both groups are stable and warmed up.
 */
export async function measureScaleRuns(
  base: AppConfig,
  settings: ScaleBenchSettings,
  budgets: CpuBudgets,
  instances: number,
  repeat: number,
): Promise<ScaleRun> {
  const resources = new Resources();
  try {
    const sandbox = await createSandbox(base, `scaleruns${instances}x${repeat}`, settings.partitions, resources);
    const support = [
      await startSupport(sandbox, settings, 'run-projector', resources),
      await startSupport(sandbox, settings, 'outbox-relay', resources),
    ];
    const spawned = performance.now();
    const budgeted = await Promise.all(
      Array.from({ length: instances }, (_, i) => [
        startBudgeted(sandbox, settings, budgets, 'coordinator', i, {}, resources),
        startBudgeted(sandbox, settings, budgets, 'worker', i, { WORKER_TYPES: 'function' }, resources),
      ]).flat(),
    );
    const api = await startSupport(sandbox, settings, 'api', resources);
    support.unshift(api);

    const client = new ApiClient(api.origin, settings.concurrency, LOCAL_BOOTSTRAP_ADMIN_KEY);
    resources.defer('http client', () => client.close());
    const pool = createPool(sandbox.databaseUrl, { name: 'bench-scale', max: 4 });
    resources.defer('pool', () => pool.end());
    const watcher = new FinishWatcher(pool, settings.pollMs);
    resources.defer('finish watcher', () => watcher.stop());
    let finished = 0;
    const ends: RunEnd = {
      of: (runId) =>
        watcher.finished(runId).then((status) => {
          finished++;
          return status;
        }),
      abandonAll: () => watcher.abandonAll(),
      settled: async () => {},
    };

    const workflows = await createWorkflows(client, settings.runWorkflows, 'scale', CHAIN_DEFINITION);
    let sent = 0;
    const next = () => {
      const n = sent++;
      return { path: `/v1/workflows/${workflows[n % workflows.length]}/runs`, body: `{"input":{"x":${n}}}` };
    };
    const groups: GroupExpectation[] = [
      { group: sandbox.group('coordinator'), members: instances },
      { group: sandbox.group('worker-function'), members: instances },
    ];
    await waitForStableGroups(sandbox.kafka, groups, settings.stableTimeoutMs, { drained: false });
    await firstRun(client, watcher, next);
    await waitForStableGroups(sandbox.kafka, groups, settings.stableTimeoutMs);
    const stableAfterS = (performance.now() - spawned) / 1000;

    const load = startClosedLoop(client, ends, settings.concurrency, next);
    const loadStarted = performance.now();
    try {
      // Warm-up: BENCH_WARMUP_S, and at least one turnover of the runs in flight (on a slow pipeline the first wave
      // alone takes longer than that, and a window during it would count the start-up, not the steady state).
      await sleep(settings.warmupMs);
      for (const deadline = performance.now() + settings.drainTimeoutMs; finished < settings.concurrency;) {
        if (performance.now() > deadline)
          throw new Error(`warm-up: ${finished} runs finished in ${settings.drainTimeoutMs} ms`);
        await sleep(200);
      }
      const warmupS = (performance.now() - loadStarted) / 1000;
      const membersBefore = await groupMembers(
        sandbox.kafka,
        groups.map((g) => g.group),
      );
      const end = startWindow(budgeted, support, sandbox.id);
      const windowStart = await dbClock(pool);
      await sleep(settings.durationMs);
      const windowEnd = await dbClock(pool);
      const window = end();
      const membersAfter = await groupMembers(
        sandbox.kafka,
        groups.map((g) => g.group),
      );
      await load.stop();
      await untilAllFinished(pool, settings.drainTimeoutMs);
      const stored = await storedFigures(pool, windowStart, windowEnd);
      const result: ScaleRun = {
        scenario: 'runs',
        instances,
        perSecond: stored.completed / window.windowS,
        units: stored.completed,
        windowS: window.windowS,
        budgeted: instanceFigures(budgeted, window.deltas, window.windowS, stored.completed),
        support: window.support,
        cpu: window.cpu,
        membersUnchanged: sameMembers(membersBefore, membersAfter),
        pendingAtEnd: Number.NaN,
        stableAfterS,
        warmupS,
        latencyP50Ms: stored.p50Ms,
        patchesPerVersion: Number.NaN,
        notCompleted: stored.otherStatuses,
      };
      progress(describe(result));
      return result;
    } finally {
      await load.stop();
    }
  } finally {
    await resources.release();
  }
}

/** Sends `count` patches over `concurrency` connections, round-robin over the workflows; throws on any non-202. */
async function queuePatches(client: ApiClient, workflows: readonly string[], count: number, concurrency: number) {
  let sent = 0;
  const sender = async () => {
    while (sent < count) {
      const n = sent++;
      const status = await client.postStatus(
        `/v1/workflows/${workflows[n % workflows.length]}/patches`,
        JSON.stringify(rewritePatch(n)),
      );
      if (status !== 202) throw new Error(`queueing patches: HTTP ${status}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, sender));
}

/** Waits until the topic holds `count` records more than it did at `before` (the API and relay published them all). */
async function untilPublished(sandbox: Sandbox, topic: string, count: number, timeoutMs: number): Promise<void> {
  const admin = openAdmin(sandbox.kafka, 'bench-scale-published');
  await admin.connect();
  try {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const offsets = await admin.fetchTopicOffsets(topic);
      const records = offsets.reduce((sum, o) => sum + Number(o.high) - Number(o.low), 0);
      if (records >= count) return;
      if (performance.now() > deadline)
        throw new Error(`${topic}: ${records} of ${count} records after ${timeoutMs} ms`);
      await sleep(200);
    }
  } finally {
    await admin.disconnect();
  }
}

async function countPatches(pool: Pool, where: string, params: unknown[]): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM patches WHERE ${where}`, params);
  return rows[0]?.n ?? 0;
}

/** Stops or resumes a process group (the materializers hold still while their backlog is queued). */
function signalGroup(target: HttpTarget, signal: 'SIGSTOP' | 'SIGCONT'): void {
  process.kill(-target.pid, signal);
}

/**
 * Patches: N materializers, each in its own cgroup with BENCH_SCALE_CPU; api and outbox relay unbudgeted. The
 * materializers join their group on an empty topic and are stopped (SIGSTOP; a session timeout of 120 s keeps them
 * members); N × BENCH_SCALE_BACKLOG patches over N × BENCH_WORKFLOWS workflows are queued through the API; then they
 * resume, and applied patches/s is the backlog over the time from the resume until none is pending and the group's lag
 * is drained. Queueing is not in the window, so the API's CPU
 * is not either.
 */
export async function measureScalePatches(
  base: AppConfig,
  settings: ScaleBenchSettings,
  budgets: CpuBudgets,
  instances: number,
  repeat: number,
): Promise<ScaleRun> {
  const resources = new Resources();
  try {
    const sandbox = await createSandbox(base, `scalepatch${instances}x${repeat}`, settings.partitions, resources);
    const support = [await startSupport(sandbox, settings, 'outbox-relay', resources)];
    const spawned = performance.now();
    const budgeted = await Promise.all(
      Array.from({ length: instances }, (_, i) =>
        startBudgeted(
          sandbox,
          settings,
          budgets,
          'materializer',
          i,
          { CONSUMER_SESSION_TIMEOUT_MS: '120000' },
          resources,
        ),
      ),
    );
    const api = await startSupport(sandbox, settings, 'api', resources);
    support.unshift(api);
    const client = new ApiClient(api.origin, settings.postConcurrency, LOCAL_BOOTSTRAP_ADMIN_KEY);
    resources.defer('http client', () => client.close());
    const pool = createPool(sandbox.databaseUrl, { name: 'bench-scale', max: 2 });
    resources.defer('pool', () => pool.end());

    const groups: GroupExpectation[] = [{ group: sandbox.group('materializer'), members: instances }];
    await waitForStableGroups(sandbox.kafka, groups, settings.stableTimeoutMs, { drained: false });
    // As many workflows per instance at every step, so that each instance's share of the work looks the same.
    const workflows = await createWorkflows(client, settings.workflows * instances, 'scale');
    await waitForStableGroups(sandbox.kafka, groups, settings.stableTimeoutMs);
    const stableAfterS = (performance.now() - spawned) / 1000;

    for (const m of budgeted) signalGroup(m, 'SIGSTOP');
    resources.defer('resume materializers', () => {
      for (const m of budgeted) {
        try {
          signalGroup(m, 'SIGCONT');
        } catch {
          // Already gone.
        }
      }
    });
    const backlog = settings.backlogPerInstance * instances;
    const queueStarted = performance.now();
    await queuePatches(client, workflows, backlog, settings.postConcurrency);
    const topic = sandbox.topic('patch.created').name;
    await untilPublished(sandbox, topic, backlog, settings.drainTimeoutMs);
    progress(`queued ${backlog} patches in ${((performance.now() - queueStarted) / 1000).toFixed(1)} s`);
    const membersBefore = await groupMembers(
      sandbox.kafka,
      groups.map((g) => g.group),
    );
    for (const m of budgeted) signalGroup(m, 'SIGCONT');

    // The window: from the resume until nothing is pending and the group has consumed every event. A fold takes
    // everything pending for a batch's workflows, so the decisions come early and the events of patches already decided
    // are consumed after them; applied/s over a fixed window would count the first part only.
    const end = startWindow(budgeted, support, sandbox.id);
    const windowStart = await dbClock(pool);
    const deadline = performance.now() + settings.drainTimeoutMs;
    for (;;) {
      await sleep(250);
      if (performance.now() > deadline)
        throw new Error(`the backlog was not worked off in ${settings.drainTimeoutMs} ms`);
      if ((await countPatches(pool, "status = 'pending'", [])) > 0) continue;
      if ((await groupStates(sandbox.kafka, [groups[0]?.group as string]))[0]?.lagging === 0) break;
    }
    const windowEnd = await dbClock(pool);
    const window = end();
    const pendingAtEnd = await countPatches(pool, "status = 'pending'", []);
    const membersAfter = await groupMembers(
      sandbox.kafka,
      groups.map((g) => g.group),
    );
    const applied = await countPatches(
      pool,
      "status = 'applied' AND decided_at >= $1::timestamptz AND decided_at < $2::timestamptz",
      [windowStart, windowEnd],
    );
    const rejected = await countPatches(pool, "status = 'rejected'", []);
    const { rows: versionRows } = await pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM workflow_versions WHERE created_at >= $1::timestamptz',
      [windowStart],
    );
    const versions = versionRows[0]?.n ?? 0;
    const result: ScaleRun = {
      scenario: 'patches',
      instances,
      perSecond: applied / window.windowS,
      units: applied,
      windowS: window.windowS,
      budgeted: instanceFigures(budgeted, window.deltas, window.windowS, applied),
      support: window.support,
      cpu: window.cpu,
      membersUnchanged: sameMembers(membersBefore, membersAfter),
      pendingAtEnd,
      stableAfterS,
      warmupS: 0,
      latencyP50Ms: Number.NaN,
      patchesPerVersion: versions ? applied / versions : Number.NaN,
      notCompleted: rejected ? { rejected } : {},
    };
    progress(describe(result));
    return result;
  } finally {
    await resources.release();
  }
}
