/**
 * Merges the partition batches that arrive while one is being written into the next write, so a fetch's dozens of
 * partition batches cost one transaction instead of one each (kafkajs hands them over one partition at a time, and a
 * transaction per partition batch made every hop queue behind the others). One write at a time also keeps each run's
 * events in order without per-partition locks.
 *
 * If a merged write fails, each batch is retried alone, so a poison message fails only its own batch and the
 * transport's retry and dead-letter decisions stay per partition.
 */
export class BatchCoalescer<T> {
  private queue: { item: T; resolve(): void; reject(error: unknown): void }[] = [];
  private running = false;

  constructor(private readonly write: (items: readonly T[]) => Promise<void>) {}

  submit(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.drain();
    });
  }

  private drain(): void {
    if (this.running || !this.queue.length) return;
    this.running = true;
    const taken = this.queue.splice(0);
    void this.writeAll(taken).finally(() => {
      this.running = false;
      this.drain();
    });
  }

  private async writeAll(taken: BatchCoalescer<T>['queue']): Promise<void> {
    try {
      await this.write(taken.map((t) => t.item));
      taken.forEach((t) => t.resolve());
      return;
    } catch (error) {
      if (taken.length === 1) {
        (taken[0] as (typeof taken)[number]).reject(error);
        return;
      }
    }
    for (const t of taken) {
      await this.write([t.item]).then(
        () => t.resolve(),
        (error: unknown) => t.reject(error),
      );
    }
  }
}
