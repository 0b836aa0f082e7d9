/**
 * Results of node attempts that were executed but whose completion is not known to be published yet, by
 * `run:node:attempt`. When publishing fails (a broker hiccup) the transport retries the whole batch; with this memo the
 * retry only publishes again instead of calling the external service or the model a second time. Entries leave when
 * their send succeeded. Those of a batch that never gets sent by this process (its partition moved, it was
 * dead-lettered) are evicted oldest first once the memo holds more than `maxBytes`: forgetting one costs a
 * re-execution, never a wrong result.
 */
export class UnsentCompletions<T> {
  private readonly entries = new Map<string, { value: T; bytes: number }>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get(key: string): T | undefined {
    return this.entries.get(key)?.value;
  }

  /** `bytes` is the entry's weight (its payload's size), what the budget counts. */
  set(key: string, value: T, bytes: number): void {
    this.delete(key);
    this.entries.set(key, { value, bytes });
    this.bytes += bytes;
    for (const [oldest, entry] of this.entries) {
      if (this.bytes <= this.maxBytes || oldest === key) break;
      this.entries.delete(oldest);
      this.bytes -= entry.bytes;
    }
  }

  delete(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.bytes -= entry.bytes;
  }

  get size(): number {
    return this.entries.size;
  }
}

/** The identity of a node attempt, as in the idempotency key that external calls carry. */
export const attemptKey = (task: { runId: string; nodeId: string; attempt: number }): string =>
  `${task.runId}:${task.nodeId}:${task.attempt}`;
