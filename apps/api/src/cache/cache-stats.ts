import type { TokenPrice } from '#libs/config';

/** A workspace's recorded hits of one node type and model (model null: no counted tokens), as cache-stats.sql reads. */
export interface HitGroup {
  readonly nodeType: string;
  readonly model: string | null;
  /** exact or semantic */
  readonly match: string;
  readonly hits: number;
  readonly savedMs: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
}

export interface HitRateView {
  /** Lookups counted by the cache (null: its Redis did not answer). */
  lookups: number | null;
  hits: number;
  misses: number | null;
  /** hits / lookups, 0 to 1; null without lookups. */
  hitRate: number | null;
  savedMs: number;
}

export interface CacheStatsView extends HitRateView {
  workspaceId: string;
  /** ISO 8601: the window, from a full hour (the lookup counters are hourly) to now. */
  since: string;
  until: string;
  tokensSaved: { prompt: number; completion: number };
  /** The saved tokens priced with CACHE_TOKEN_PRICES (per million), in its currency. */
  estimatedCostSaved: number;
  /** Models whose saved tokens have no price: they add nothing to estimatedCostSaved. */
  unpricedModels: string[];
  byNodeType: (HitRateView & { nodeType: string })[];
  byModel: { model: string; hits: number; promptTokens: number; completionTokens: number; costSaved: number | null }[];
  /** Hits and time saved by how they matched: exact (the node result cache) or semantic (similar agent prompts). */
  byMatch: { match: string; hits: number; savedMs: number }[];
}

/**
 * What a workspace's cache earned in a window: hits, time and tokens saved from the audit trail (cache_hits), lookups
 * from the cache's own counters. A hit always had a lookup, so misses are lookups less hits; a counter lost to Redis
 * (evicted, restarted) cannot make the rate exceed 1.
 */
export function cacheStats(
  window: { workspaceId: string; since: Date; until: Date },
  groups: readonly HitGroup[],
  lookups: ReadonlyMap<string, number> | null,
  prices: ReadonlyMap<string, TokenPrice>,
): CacheStatsView {
  const types = new Set([...groups.map((g) => g.nodeType), ...(lookups?.keys() ?? [])]);
  const byNodeType = [...types].sort().map((nodeType) => {
    const of = groups.filter((g) => g.nodeType === nodeType);
    return {
      nodeType,
      ...hitRate(
        lookups === null ? null : (lookups.get(nodeType) ?? 0),
        sum(of, (g) => g.hits),
        sum(of, (g) => g.savedMs),
      ),
    };
  });
  const models = new Map<string, { hits: number; promptTokens: number; completionTokens: number }>();
  for (const g of groups) {
    if (g.model === null) continue;
    const m = models.get(g.model) ?? { hits: 0, promptTokens: 0, completionTokens: 0 };
    models.set(g.model, {
      hits: m.hits + g.hits,
      promptTokens: m.promptTokens + g.promptTokens,
      completionTokens: m.completionTokens + g.completionTokens,
    });
  }
  const byModel = [...models.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([model, m]) => {
      const price = prices.get(model);
      const costSaved = price
        ? (m.promptTokens * price.promptPerMillion + m.completionTokens * price.completionPerMillion) / 1_000_000
        : null;
      return { model, ...m, costSaved };
    });
  return {
    workspaceId: window.workspaceId,
    since: window.since.toISOString(),
    until: window.until.toISOString(),
    ...hitRate(
      lookups === null ? null : sum([...lookups.values()], (n) => n),
      sum(groups, (g) => g.hits),
      sum(groups, (g) => g.savedMs),
    ),
    tokensSaved: { prompt: sum(byModel, (m) => m.promptTokens), completion: sum(byModel, (m) => m.completionTokens) },
    estimatedCostSaved: sum(byModel, (m) => m.costSaved ?? 0),
    unpricedModels: byModel.filter((m) => m.costSaved === null).map((m) => m.model),
    byNodeType,
    byModel,
    byMatch: [...new Set(groups.map((g) => g.match))].sort().map((match) => {
      const of = groups.filter((g) => g.match === match);
      return { match, hits: sum(of, (g) => g.hits), savedMs: sum(of, (g) => g.savedMs) };
    }),
  };
}

function hitRate(counted: number | null, hits: number, savedMs: number): HitRateView {
  const lookups = counted === null ? null : Math.max(counted, hits);
  return {
    lookups,
    hits,
    misses: lookups === null ? null : lookups - hits,
    hitRate: lookups ? hits / lookups : null,
    savedMs,
  };
}

const sum = <T>(items: readonly T[], of: (item: T) => number): number => items.reduce((n, item) => n + of(item), 0);
