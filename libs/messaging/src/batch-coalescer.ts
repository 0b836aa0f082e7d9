/**
 * Merges the partition batches that arrive while one is being written into the next write, so a fetch's dozens of
 * partition batches cost one transaction instead of one each (kafkajs hands them over one partition at a time, and a
 * transaction per partition batch made every hop queue behind the others). One write at a time also keeps each run's
 * events in order without per-partition locks.
 *
 * If a merged write fails, each batch is retried alone, so a poison message fails only its own batch and the
 * transport's retry and dead-letter decisions stay per partition.
 */
export class BatchCoalescer<T, R = void> {
  private queue: { item: T; resolve(result: R): void; reject(error: unknown): void }[] = [];
  private running = false;

  /** `write` resolves with what each of the items' submitters receives (the same for all the items of one write). */
  constructor(private readonly write: (items: readonly T[]) => Promise<R>) {}

  submit(item: T): Promise<R> {
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

  private async writeAll(taken: BatchCoalescer<T, R>['queue']): Promise<void> {
    try {
      const result = await this.write(taken.map((t) => t.item));
      taken.forEach((t) => t.resolve(result));
      return;
    } catch (error) {
      if (taken.length === 1) {
        (taken[0] as (typeof taken)[number]).reject(error);
        return;
      }
    }
    for (const t of taken) {
      await this.write([t.item]).then(
        (result) => t.resolve(result),
        (error: unknown) => t.reject(error),
      );
    }
  }
}
