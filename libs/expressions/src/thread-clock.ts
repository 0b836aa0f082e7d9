import { readFileSync, readlinkSync } from 'node:fs';

/**
 * What a pool thread tells its caller about the evaluation it runs, through shared memory, so that the caller's
 * watchdog can tell an expression that runs long from one that waits: queued behind busy threads, starved of CPU on a
 * loaded machine, or already finished with its answer still in the caller's event-loop queue. Only the first is a
 * runaway; timing the others as one failed trivial expressions under load (a chaos test saw `nodes.call.body.ok`
 * stopped "after 1000 ms").
 */
const STARTED_MS = 0;
const FINISHED = 1;
const THREAD_ID = 2;
const CPU_AT_START_US = 3;
const SLOTS = 4;

export function newThreadClock(): SharedArrayBuffer {
  return new SharedArrayBuffer(SLOTS * BigInt64Array.BYTES_PER_ELEMENT);
}

/** In the thread: the evaluation starts now. */
export function markStarted(clock: SharedArrayBuffer): void {
  const slots = new BigInt64Array(clock);
  const cpu = process.threadCpuUsage();
  slots[CPU_AT_START_US] = BigInt(cpu.user + cpu.system);
  slots[THREAD_ID] = BigInt(ownThreadId());
  Atomics.store(slots, STARTED_MS, BigInt(Date.now()));
}

/** In the thread: the answer is on its way. */
export function markFinished(clock: SharedArrayBuffer): void {
  Atomics.store(new BigInt64Array(clock), FINISHED, 1n);
}

export type ThreadProgress =
  | { readonly state: 'queued' }
  | { readonly state: 'finished' }
  /** cpuMs is undefined where the platform does not show a thread's CPU time (anything but Linux). */
  | { readonly state: 'running'; readonly wallMs: number; readonly cpuMs: number | undefined };

/** In the caller: how far the evaluation has got. */
export function readProgress(clock: SharedArrayBuffer): ThreadProgress {
  const slots = new BigInt64Array(clock);
  if (Atomics.load(slots, FINISHED) === 1n) return { state: 'finished' };
  const started = Number(Atomics.load(slots, STARTED_MS));
  if (started === 0) return { state: 'queued' };
  const onCpuNs = threadCpuNs(Number(slots[THREAD_ID]));
  const cpuMs = onCpuNs === undefined ? undefined : (onCpuNs / 1_000 - Number(slots[CPU_AT_START_US])) / 1_000;
  return { state: 'running', wallMs: Date.now() - started, cpuMs };
}

let threadId: number | undefined;

/** The kernel's id of the calling thread (Linux); 0 where there is none to read. */
function ownThreadId(): number {
  if (threadId === undefined) {
    try {
      threadId = Number(readlinkSync('/proc/thread-self').split('/').pop());
    } catch {
      threadId = 0;
    }
  }
  return threadId;
}

/** Nanoseconds a thread of this process has spent on a CPU (the first field of its schedstat). */
function threadCpuNs(tid: number): number | undefined {
  if (tid <= 0) return undefined;
  try {
    return Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
  } catch {
    return undefined;
  }
}
