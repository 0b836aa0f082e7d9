import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** Average cores busy over a window, split by who used them (Linux /proc; zeros elsewhere). */
export interface CpuShare {
  readonly machineCores: number;
  readonly busy: number;
  readonly loadGenerator: number;
  readonly service: number;
  /** The sandbox database's backends and Postgres' shared background processes (WAL writer, checkpointer, ...). */
  readonly postgres: number;
  /** Every java process: Kafka and the schema registry. */
  readonly java: number;
  readonly other: number;
}

interface Snapshot {
  readonly at: number;
  /** Context switches of the service processes' main threads (their event loops). */
  readonly switches: { voluntary: number; involuntary: number };
  readonly machineBusyS: number;
  readonly selfS: number;
  /** CPU seconds by pid, for the service, the java processes and the postgres processes that work for us. */
  readonly byPid: ReadonlyMap<number, { comm: string; seconds: number }>;
}

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** utime + stime of one process, from /proc/<pid>/stat (fields 14 and 15, counted after the command name). */
function readProcess(pid: number): { comm: string; seconds: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { comm, seconds: (Number(fields[11]) + Number(fields[12])) / clockTicks() };
  } catch {
    return undefined;
  }
}

/**
 * Whether a postgres process works for the sandbox: its own backends, or a shared background process. Backends of other
 * databases (another benchmark, a test run) are someone else's load and count as "other".
 */
function servesDatabase(pid: number, database: string): boolean {
  try {
    const title = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    const backend = /\d+\.\d+\.\d+\.\d+\(\d+\)|\[local\]/.test(title);
    return !backend || title.includes(` ${database} `);
  } catch {
    return false;
  }
}

function snapshot(servicePids: ReadonlySet<number>, database: string): Snapshot {
  const byPid = new Map<number, { comm: string; seconds: number }>();
  let pids: number[] = [];
  try {
    pids = readdirSync('/proc')
      .filter((name) => /^\d+$/.test(name))
      .map(Number);
  } catch {
    // Not Linux: only the totals below.
  }
  for (const pid of pids) {
    const proc = readProcess(pid);
    if (!proc) continue;
    const ours =
      proc.comm === 'postgres' ? servesDatabase(pid, database) : servicePids.has(pid) || proc.comm === 'java';
    if (ours) byPid.set(pid, proc);
  }
  const switches = { voluntary: 0, involuntary: 0 };
  for (const pid of servicePids) {
    const counts = contextSwitches(pid);
    switches.voluntary += counts.voluntary;
    switches.involuntary += counts.involuntary;
  }
  const machineBusyMs = cpus().reduce((sum, c) => sum + c.times.user + c.times.nice + c.times.sys + c.times.irq, 0);
  const self = process.cpuUsage();
  return {
    at: performance.now(),
    switches,
    machineBusyS: machineBusyMs / 1000,
    selfS: (self.user + self.system) / 1e6,
    byPid,
  };
}

/**
 * A thread's context switches (/proc/<pid>/status): voluntary ones wait for I/O (an idle event loop), involuntary ones
 * are preemptions, the thread wanting the CPU while something else got it.
 */
function contextSwitches(pid: number): { voluntary: number; involuntary: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
    return { voluntary: field('voluntary_ctxt_switches'), involuntary: field('nonvoluntary_ctxt_switches') };
  } catch {
    return { voluntary: Number.NaN, involuntary: Number.NaN };
  }
}

/** Starts measuring; the returned function ends the window and returns the shares. */
export function measureCpu(servicePid: number, database: string): () => CpuShare {
  const end = measureCpuSplit([servicePid], database);
  return () => end().share;
}

/**
 * Like `measureCpu` for a service made of several processes: `service` is their sum, `perService` each one's cores
 * busy in the order given.
 */
export function measureCpuSplit(
  servicePids: readonly number[],
  database: string,
): () => { share: CpuShare; perService: number[]; switchesPerSecond: { voluntary: number; involuntary: number } } {
  const services = new Set(servicePids);
  const before = snapshot(services, database);
  return () => {
    const after = snapshot(services, database);
    const wallS = (after.at - before.at) / 1000;
    const sums = { service: 0, postgres: 0, java: 0 };
    const perPid = new Map<number, number>();
    for (const [pid, proc] of after.byPid) {
      const used = proc.seconds - (before.byPid.get(pid)?.seconds ?? 0);
      if (services.has(pid)) {
        sums.service += used;
        perPid.set(pid, used / wallS);
      } else if (proc.comm === 'postgres') sums.postgres += used;
      else sums.java += used;
    }
    const busy = (after.machineBusyS - before.machineBusyS) / wallS;
    const loadGenerator = (after.selfS - before.selfS) / wallS;
    const service = sums.service / wallS;
    const postgres = sums.postgres / wallS;
    const java = sums.java / wallS;
    return {
      share: {
        machineCores: cpus().length,
        busy,
        loadGenerator,
        service,
        postgres,
        java,
        other: Math.max(0, busy - loadGenerator - service - postgres - java),
      },
      perService: servicePids.map((pid) => perPid.get(pid) ?? 0),
      switchesPerSecond: {
        voluntary: (after.switches.voluntary - before.switches.voluntary) / wallS,
        involuntary: (after.switches.involuntary - before.switches.involuntary) / wallS,
      },
    };
  };
}

/** Cores busy over the next `ms` with nothing of the benchmark running: other work on the machine skews every figure. */
export async function idleBusy(ms: number): Promise<number> {
  const busy = () => cpus().reduce((sum, c) => sum + c.times.user + c.times.nice + c.times.sys + c.times.irq, 0);
  const before = busy();
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, ms));
  return (busy() - before) / (performance.now() - started);
}
