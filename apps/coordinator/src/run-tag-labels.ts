/**
 * The `tag` label of workflows_started_total, bounded: tags come from clients, and every distinct label value is a
 * series Prometheus keeps for good. With an allow-list only its tags are labels; without one the first `max` distinct
 * tags this process sees are, so the series count stays bounded either way. Everything else is "other"; no tag is
 * "none".
 */
export class RunTagLabels {
  private readonly seen = new Set<string>();

  constructor(
    private readonly allowed: readonly string[] | undefined,
    private readonly max: number,
  ) {}

  label(tag: string | null): string {
    if (tag === null) return 'none';
    if (this.allowed) return this.allowed.includes(tag) ? tag : 'other';
    if (this.seen.has(tag)) return tag;
    if (this.seen.size >= this.max) return 'other';
    this.seen.add(tag);
    return tag;
  }
}
