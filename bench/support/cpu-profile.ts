import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The parts of a V8 .cpuprofile (what `node --cpu-prof` writes at exit) that the summary reads. */
interface CpuProfile {
  readonly nodes: readonly {
    readonly id: number;
    readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
    readonly children?: readonly number[];
  }[];
  /** Microseconds on the monotonic clock (the one process.hrtime reads). */
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Where, in time, a process's samples count: its pid (the profile's file name holds it) and a monotonic window. */
export interface ProfileWindow {
  readonly pids: readonly number[];
  readonly fromUs: number;
  readonly toUs: number;
}

export interface ProfileSummary {
  readonly profiles: number;
  /** Sampled time in the windows, idle excluded, summed over processes and runs. */
  readonly busyMs: number;
  readonly idleMs: number;
  /** Functions by self time (share of busy time). */
  readonly functions: readonly { name: string; where: string; ms: number; share: number }[];
  /** Self time by package (node_modules package, apps/x, libs/x, node internals, GC, native code). */
  readonly packages: readonly { name: string; ms: number; share: number }[];
  /** Self time with native code and node internals charged to the nearest package calling them (socket writes to pg). */
  readonly owners: readonly { name: string; ms: number; share: number }[];
  /** Time with at least one frame of the package on the stack (inclusive; shares overlap). */
  readonly inclusive: readonly { name: string; ms: number; share: number }[];
}

const SPECIAL = new Set(['(garbage collector)', '(idle)', '(program)', '(root)']);
const NATIVE = '(native: V8 builtins, JSON, RegExp)';
/** Frames charged to their caller in the `owners` view: native code, node's own modules, and the bench's pg wrapper. */
const TRANSPARENT = new Set([NATIVE, 'node (internals)', 'bench']);

/** node_modules package, apps/<x> or libs/<x> of this repository, node's own modules, or native code (JSON, RegExp...). */
export function packageOf(url: string, functionName: string): string {
  if (!url) return SPECIAL.has(functionName) ? functionName : NATIVE;
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const [scope, name] = url.slice(modules + '/node_modules/'.length).split('/');
    return scope?.startsWith('@') ? `${scope}/${name}` : (scope ?? url);
  }
  if (url.startsWith('node:')) return 'node (internals)';
  const own = /\/dist\/(apps|libs|bench|test)\/([^/]+)/.exec(url);
  if (own) return own[1] === 'bench' || own[1] === 'test' ? own[1] : `${own[1]}/${own[2]}`;
  return url;
}

const shortUrl = (url: string) => url.replace(/^.*\/node_modules\//, '').replace(/^.*\/dist\//, '');

/**
 * Reads the --cpu-prof files of the given processes in `dir` and sums their samples inside each process's window:
 * self time by function and by package, and inclusive time by package. A sample lasts until the next one.
 */
export function summarizeProfiles(dir: string, windows: readonly ProfileWindow[], top = 25): ProfileSummary {
  const windowOf = new Map<number, ProfileWindow>();
  for (const w of windows) for (const pid of w.pids) windowOf.set(pid, w);
  const functions = new Map<string, { name: string; where: string; ms: number }>();
  const packages = new Map<string, number>();
  const owners = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let busyMs = 0;
  let idleMs = 0;
  let profiles = 0;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    const pid = Number(file.split('.')[3]);
    const window = windowOf.get(pid);
    if (!window) continue;
    profiles++;
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
    const ownerOf = new Map<number, string>();
    const owner = (id: number): string => {
      let found = ownerOf.get(id);
      if (found === undefined) {
        const node = byId.get(id);
        const pkg = node ? packageOf(node.callFrame.url, node.callFrame.functionName) : '(root)';
        const up = parent.get(id);
        found = !TRANSPARENT.has(pkg) ? pkg : up === undefined ? pkg : owner(up);
        if (found === '(root)') found = pkg;
        ownerOf.set(id, found);
      }
      return found;
    };
    const stackPackages = new Map<number, ReadonlySet<string>>();
    const packagesOnStack = (id: number): ReadonlySet<string> => {
      let found = stackPackages.get(id);
      if (!found) {
        const node = byId.get(id);
        const up = parent.get(id);
        const set = new Set(up === undefined ? [] : packagesOnStack(up));
        if (node) set.add(packageOf(node.callFrame.url, node.callFrame.functionName));
        stackPackages.set(id, (found = set));
      }
      return found;
    };
    let at = profile.startTime;
    for (let i = 0; i < profile.samples.length; i++) {
      at += profile.timeDeltas[i] ?? 0;
      const duration = (profile.timeDeltas[i + 1] ?? 0) / 1000;
      if (at < window.fromUs || at >= window.toUs || duration <= 0) continue;
      const node = byId.get(profile.samples[i] as number);
      if (!node) continue;
      const { functionName, url, lineNumber } = node.callFrame;
      const pkg = packageOf(url, functionName);
      if (functionName === '(idle)') {
        idleMs += duration;
        continue;
      }
      busyMs += duration;
      packages.set(pkg, (packages.get(pkg) ?? 0) + duration);
      const charged = owner(node.id);
      owners.set(charged, (owners.get(charged) ?? 0) + duration);
      const where = url && !TRANSPARENT.has(pkg) ? `${shortUrl(url)}:${lineNumber + 1}` : `(called from ${charged})`;
      const key = `${functionName}@${where}`;
      const entry = functions.get(key) ?? { name: functionName || '(anonymous)', where, ms: 0 };
      entry.ms += duration;
      functions.set(key, entry);
      for (const p of packagesOnStack(node.id)) {
        if (p !== '(root)') inclusive.set(p, (inclusive.get(p) ?? 0) + duration);
      }
    }
  }
  const share = (ms: number) => (busyMs ? ms / busyMs : Number.NaN);
  const ranked = (map: Map<string, number>) =>
    [...map]
      .sort(([, a], [, b]) => b - a)
      .slice(0, top)
      .map(([name, ms]) => ({ name, ms, share: share(ms) }));
  return {
    profiles,
    busyMs,
    idleMs,
    functions: [...functions.values()]
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top)
      .map((f) => ({ ...f, share: share(f.ms) })),
    packages: ranked(packages),
    owners: ranked(owners),
    inclusive: ranked(inclusive),
  };
}

/** The summary as report lines. */
export function profileLines(title: string, s: ProfileSummary): string[] {
  const pct = (x: number) => `${(x * 100).toFixed(1).padStart(5)}%`;
  const windowMs = s.busyMs + s.idleMs;
  return [
    `${title}: ${s.profiles} profile(s), ${(s.busyMs / 1000).toFixed(1)} s busy of ${(windowMs / 1000).toFixed(1)} s ` +
      `sampled in the measured windows (${windowMs ? ((s.busyMs / windowMs) * 100).toFixed(0) : 'n/a'}% busy)`,
    '  self time by package:',
    ...s.packages.slice(0, 15).map((p) => `    ${pct(p.share)}  ${p.name}`),
    '  self time with native code and node internals charged to the package calling them:',
    ...s.owners.slice(0, 15).map((p) => `    ${pct(p.share)}  ${p.name}`),
    '  inclusive time by package (a frame of it anywhere on the stack; shares overlap):',
    ...s.inclusive.slice(0, 15).map((p) => `    ${pct(p.share)}  ${p.name}`),
    '  top functions by self time:',
    ...s.functions.map((f) => `    ${pct(f.share)}  ${f.name}  ${f.where}`),
  ];
}
