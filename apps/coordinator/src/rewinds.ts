import { BatchRewound } from '#libs/messaging';

/** Where an input batch starts: its topic partition (`topic:partition`) and first offset. */
export interface BatchStart {
  readonly key: string;
  readonly first: bigint;
}

/**
 * The input partitions a void transaction's batches came from, and the offset each is read again from (the transport
 * rewinds them to their earliest batch not durable, which is the earliest of these). Until that batch arrives again, a
 * batch of the partition starting later was fetched before the rewind: applied now, it would overtake the ones read
 * again, so it is refused.
 */
export class Rewinds {
  private readonly from = new Map<string, bigint>();

  note(batches: readonly BatchStart[]): void {
    for (const { key, first } of batches) {
      const at = this.from.get(key);
      if (at === undefined || first < at) this.from.set(key, first);
    }
  }

  /** Throws BatchRewound for a batch fetched before its partition's rewind; the first from the rewind point ends it. */
  admit(batches: readonly BatchStart[]): void {
    for (const { key, first } of batches) {
      const at = this.from.get(key);
      if (at === undefined) continue;
      if (first > at) throw new BatchRewound(`${key} is read again from offset ${at}`);
      this.from.delete(key);
    }
  }

  /** The group rejoined: every partition starts again at its committed offset, before any rewind point. */
  clear(): void {
    this.from.clear();
  }
}
