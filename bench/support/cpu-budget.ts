import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A fixed CPU budget for one process (and its threads and children): a cgroup of its own with a CFS quota. cgroup v2
 * (`cpu.max`, `cpu.stat`) when the unified hierarchy is mounted at /sys/fs/cgroup, else cgroup v1 (`cpu.cfs_quota_us`
 * in the cpu hierarchy, `cpuacct.usage` in the cpuacct one, which may be mounted apart from it or together with it).
 * Needs write access to the hierarchy (root); without it `cpuBudgets()` throws rather than run unbudgeted.
 */
export interface CpuBudgetReading {
  /** CPU time the group used, in ns. */
  readonly usageNs: number;
  /** CFS periods in which the group had runnable threads, and those in which it ran out of quota. */
  readonly periods: number;
  readonly throttledPeriods: number;
  /** Time its threads spent throttled (runnable, quota used up), in ns. */
  readonly throttledNs: number;
}

export interface CpuBudget {
  readonly name: string;
  readonly cores: number;
  /** Moves a process (all its threads) into the group. */
  add(pid: number): void;
  read(): CpuBudgetReading;
  /** Moves whatever is left to the parent and removes the group. */
  remove(): void;
}

export interface CpuBudgets {
  /** 'v1' or 'v2', and the directories used, for the report. */
  readonly describe: string;
  create(name: string, cores: number): CpuBudget;
}

/** The CFS period every budget uses: 100 ms, the kernel's default. */
const PERIOD_US = 100_000;

const write = (file: string, value: string) => writeFileSync(file, value);
const readText = (file: string) => readFileSync(file, 'utf8');

function parseStat(text: string): Map<string, number> {
  return new Map(
    text
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [key, value] = line.split(/\s+/);
        return [key ?? '', Number(value)];
      }),
  );
}

/** Threads still in a group go back to the root group so that the directory can be removed. */
function evacuate(dir: string, root: string): void {
  if (!existsSync(dir)) return;
  for (const pid of readText(join(dir, 'cgroup.procs')).split('\n').filter(Boolean)) {
    try {
      write(join(root, 'cgroup.procs'), pid);
    } catch {
      // Gone meanwhile.
    }
  }
  rmdirSync(dir);
}

/** Where a v1 controller is mounted (/proc/self/mounts), e.g. /sys/fs/cgroup/cpu or /sys/fs/cgroup/cpu,cpuacct. */
function v1Mount(controller: string): string | undefined {
  for (const line of readText('/proc/self/mounts').split('\n')) {
    const [, mountPoint, type, options] = line.split(' ');
    if (type === 'cgroup' && (options ?? '').split(',').includes(controller)) return mountPoint;
  }
  return undefined;
}

function probeWritable(root: string): void {
  const probe = join(root, `orch-bench-probe-${process.pid}`);
  mkdirSync(probe);
  rmdirSync(probe);
}

function v2(root: string): CpuBudgets {
  const controllers = readText(join(root, 'cgroup.controllers'));
  if (!controllers.split(/\s+/).includes('cpu')) throw new Error(`cgroup v2 at ${root} has no cpu controller`);
  // Children get the cpu controller only if the parent delegates it.
  if (!readText(join(root, 'cgroup.subtree_control')).split(/\s+/).includes('cpu')) {
    write(join(root, 'cgroup.subtree_control'), '+cpu');
  }
  probeWritable(root);
  return {
    describe: `cgroup v2 (${root}/orch-bench-*: cpu.max, cpu.stat)`,
    create(name, cores) {
      const dir = join(root, `orch-bench-${name}`);
      mkdirSync(dir);
      write(join(dir, 'cpu.max'), `${Math.round(cores * PERIOD_US)} ${PERIOD_US}`);
      return {
        name,
        cores,
        add: (pid) => write(join(dir, 'cgroup.procs'), String(pid)),
        read: () => {
          const stat = parseStat(readText(join(dir, 'cpu.stat')));
          return {
            usageNs: (stat.get('usage_usec') ?? 0) * 1000,
            periods: stat.get('nr_periods') ?? 0,
            throttledPeriods: stat.get('nr_throttled') ?? 0,
            throttledNs: (stat.get('throttled_usec') ?? 0) * 1000,
          };
        },
        remove: () => evacuate(dir, root),
      };
    },
  };
}

function v1(cpuRoot: string, cpuacctRoot: string): CpuBudgets {
  probeWritable(cpuRoot);
  const together = cpuRoot === cpuacctRoot;
  if (!together) probeWritable(cpuacctRoot);
  return {
    describe: together
      ? `cgroup v1 (${cpuRoot}/orch-bench-*: cpu.cfs_quota_us, cpu.stat, cpuacct.usage)`
      : `cgroup v1 (${cpuRoot}/orch-bench-*: cpu.cfs_quota_us, cpu.stat; ${cpuacctRoot}/orch-bench-*: cpuacct.usage)`,
    create(name, cores) {
      const cpuDir = join(cpuRoot, `orch-bench-${name}`);
      const acctDir = join(cpuacctRoot, `orch-bench-${name}`);
      mkdirSync(cpuDir);
      if (!together) mkdirSync(acctDir);
      write(join(cpuDir, 'cpu.cfs_period_us'), String(PERIOD_US));
      write(join(cpuDir, 'cpu.cfs_quota_us'), String(Math.round(cores * PERIOD_US)));
      return {
        name,
        cores,
        add: (pid) => {
          write(join(cpuDir, 'cgroup.procs'), String(pid));
          if (!together) write(join(acctDir, 'cgroup.procs'), String(pid));
        },
        read: () => {
          const stat = parseStat(readText(join(cpuDir, 'cpu.stat')));
          return {
            usageNs: Number(readText(join(acctDir, 'cpuacct.usage')).trim()),
            periods: stat.get('nr_periods') ?? 0,
            throttledPeriods: stat.get('nr_throttled') ?? 0,
            throttledNs: stat.get('throttled_time') ?? 0,
          };
        },
        remove: () => {
          evacuate(cpuDir, cpuRoot);
          if (!together) evacuate(acctDir, cpuacctRoot);
        },
      };
    },
  };
}

/** The machine's way to budget CPU per process, chosen at run time; throws, saying why, when there is none. */
export function cpuBudgets(): CpuBudgets {
  const problems: string[] = [];
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) {
    try {
      return v2('/sys/fs/cgroup');
    } catch (error) {
      problems.push(`cgroup v2 at /sys/fs/cgroup: ${(error as Error).message}`);
    }
  } else {
    const cpu = v1Mount('cpu');
    const cpuacct = v1Mount('cpuacct');
    if (!cpu || !cpuacct) problems.push('no cgroup v2 at /sys/fs/cgroup, and no cgroup v1 cpu and cpuacct hierarchies');
    else {
      try {
        return v1(cpu, cpuacct);
      } catch (error) {
        problems.push(`cgroup v1 at ${cpu}: ${(error as Error).message}`);
      }
    }
  }
  throw new Error(
    `cannot give each instance a CPU budget, and this benchmark does not run without one:\n  - ${problems.join('\n  - ')}\n` +
      'It needs a writable cgroup hierarchy (root, or a delegated cgroup v2 subtree).',
  );
}

/** The difference of two readings: what the group used over a window. */
export function budgetDelta(before: CpuBudgetReading, after: CpuBudgetReading): CpuBudgetReading {
  return {
    usageNs: after.usageNs - before.usageNs,
    periods: after.periods - before.periods,
    throttledPeriods: after.throttledPeriods - before.throttledPeriods,
    throttledNs: after.throttledNs - before.throttledNs,
  };
}
