/**
 * One batch at a time per partition number. The coordinator's topics are co-partitioned, so partition p of
 * run.requested, node.completed and run.control hold the same runs; kafkajs hands their batches over concurrently,
 * and two of them working on one run at once would only collide on its version.
 */
export class PartitionLocks {
  private readonly tails = new Map<number, Promise<unknown>>();

  async run<T>(partition: number, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(partition) ?? Promise.resolve();
    const current = previous.catch(() => undefined).then(work);
    this.tails.set(partition, current);
    try {
      return await current;
    } finally {
      if (this.tails.get(partition) === current) this.tails.delete(partition);
    }
  }
}
