import { describeOpenResources, openResources } from '#libs/resources';
import { progress } from './progress.js';

const active = new Set<Resources>();
let interrupted = false;

export class Interrupted extends Error {
  override readonly name = 'Interrupted';
}

/** Steps call this before setting anything up, so nothing new is created once an interrupt has cleaned up. */
export function throwIfInterrupted(): void {
  if (interrupted) throw new Interrupted('interrupted');
}

/**
 * What one step of the benchmark set up (a database, topics, a process, clients), released in reverse order even if
 * the step failed. Every open set is also released on Ctrl-C, so an interrupted benchmark leaves nothing behind.
 */
export class Resources {
  private readonly cleanups: { what: string; run: () => unknown }[] = [];
  private released = false;

  constructor() {
    throwIfInterrupted();
    active.add(this);
  }

  /** Registers a clean-up; on a set already released (an interrupt came first) it runs at once and the step stops. */
  defer(what: string, cleanup: () => unknown): void {
    if (this.released) {
      void runCleanup(what, cleanup);
      throw new Interrupted(`interrupted while setting up ${what}`);
    }
    this.cleanups.push({ what, run: cleanup });
  }

  async release(): Promise<void> {
    this.released = true;
    active.delete(this);
    for (const { what, run } of this.cleanups.splice(0).reverse()) await runCleanup(what, run);
  }
}

async function runCleanup(what: string, cleanup: () => unknown): Promise<void> {
  try {
    await cleanup();
  } catch (error) {
    progress(`clean-up "${what}" failed: ${(error as Error).message}`);
  }
}

/** Releases everything still held, newest first, and refuses new resources from then on (for signal handlers). */
export async function interruptAndReleaseAll(): Promise<void> {
  interrupted = true;
  await releaseAll();
}

/** Releases everything still held, newest first. */
export async function releaseAll(): Promise<void> {
  for (const resources of [...active].reverse()) await resources.release();
}

/**
 * Runs a benchmark's main. Ctrl-C releases whatever the running step holds (the step itself then fails on closed
 * clients, which is expected) and exits 130 once everything is cleaned up; a second Ctrl-C exits at once. Warns about
 * anything still open at the end.
 */
export async function runBenchmark(main: () => Promise<void>): Promise<void> {
  let cleaning: Promise<void> | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (cleaning) process.exit(130);
    progress(`${signal}: cleaning up (again to exit at once)`);
    cleaning = interruptAndReleaseAll().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await main();
  } catch (error) {
    if (cleaning) await cleaning;
    await releaseAll();
    throw error;
  }
  const leftOpen = openResources();
  if (leftOpen.length) progress(`warning: left open:\n${describeOpenResources(leftOpen)}`);
}
