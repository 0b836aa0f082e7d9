/**
 * The feed's raw messages of the last few seconds, by subject key, kept undecoded (most are never asked for).
 *
 * A run's events reach Postgres only through the run projector, a moment after Kafka has them. A stream opened right
 * after `POST /runs` subscribes after the run's first events went by and would find them in neither place; this is
 * where it finds them. Keys are kept in the order they were last written, so pruning by age or by bytes drops the
 * quietest subjects first.
 */
export class RecentMessages<T> {
  private readonly byKey = new Map<string, { at: number; items: T[] }>();
  private bytes = 0;

  constructor(
    private readonly limits: { retainMs: number; maxBytes: number },
    private readonly sizeOf: (item: T) => number,
  ) {}

  add(key: string, item: T, now: number): void {
    const entry = this.byKey.get(key);
    this.byKey.delete(key);
    const items = entry?.items ?? [];
    items.push(item);
    this.byKey.set(key, { at: now, items });
    this.bytes += this.sizeOf(item);
    this.prune(now);
  }

  /** What the last `retainMs` kept for `key`, in arrival order. */
  of(key: string): readonly T[] {
    return this.byKey.get(key)?.items ?? [];
  }

  prune(now: number): void {
    for (const [key, entry] of this.byKey) {
      if (entry.at >= now - this.limits.retainMs && this.bytes <= this.limits.maxBytes) break;
      this.byKey.delete(key);
      for (const item of entry.items) this.bytes -= this.sizeOf(item);
    }
  }

  get size(): { keys: number; bytes: number } {
    return { keys: this.byKey.size, bytes: this.bytes };
  }
}
