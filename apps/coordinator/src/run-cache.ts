import type { StoredRun } from './run-store.sql.js';

/**
 * Runs of the partitions this coordinator owns, as last written, so a completion usually costs no read. Emptied on
 * every rebalance (the partitions may have moved), and a version conflict evicts the runs involved; the version
 * check on every write is what keeps a stale entry from doing harm.
 */
export class RunCache {
  private readonly runs = new Map<string, StoredRun>();

  constructor(private readonly capacity = 100_000) {}

  get(id: string): StoredRun | undefined {
    return this.runs.get(id);
  }

  set(run: StoredRun): void {
    this.runs.delete(run.id);
    if (this.runs.size >= this.capacity) {
      const oldest = this.runs.keys().next();
      if (!oldest.done) this.runs.delete(oldest.value);
    }
    this.runs.set(run.id, run);
  }

  delete(id: string): void {
    this.runs.delete(id);
  }

  clear(): void {
    this.runs.clear();
  }

  get size(): number {
    return this.runs.size;
  }
}
