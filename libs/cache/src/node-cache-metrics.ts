import { Counter, type Registry } from 'prom-client';
import { cacheCounters } from '#libs/observability';
import { CACHEABLE_NODE_TYPES } from '#libs/workflows';
import type { Served, WaitOutcome, WriteOutcome } from './node-result-cache.js';
import type { SemanticServed } from './semantic-cache.js';

/** `cache_lookups_total` outcomes: bypass when the policy kept the attempt away from the cache. */
export type LookupMetricOutcome = 'hit' | 'miss' | 'bypass' | 'error';

const LOOKUP_OUTCOMES: readonly LookupMetricOutcome[] = ['hit', 'miss', 'bypass', 'error'];
const WRITE_OUTCOMES: readonly WriteOutcome[] = ['stored', 'failed', 'sensitive', 'too_large', 'error'];
const WAIT_OUTCOMES: readonly WaitOutcome[] = ['joined', 'took_over', 'holder_failed', 'timed_out', 'error'];
/** The `cache` label of the node result cache's series of cache_time_saved_seconds_total. */
const CACHE_NAME = 'node_results';
/** The semantic cache's `cache` label there. */
const SEMANTIC_CACHE_NAME = 'semantic';
/**
 * How a lookup matched: `exact` (the node result cache) or `semantic` (agent nodes, after an exact miss). A semantic
 * lookup follows an exact miss of the same attempt, so a hit rate is all hits over the exact lookups.
 */
type Match = 'exact' | 'semantic';

/**
 * What the node result cache and the semantic cache do and earn, every label from a fixed set:
 * `cache_lookups_total{node_type,outcome,match}`, `cache_writes_total{node_type,outcome,match}` (stored, or why not),
 * `cache_waits_total{node_type,outcome}` (single flight) and `cache_time_saved_seconds_total{cache,node_type}`
 * (`node_results` or `semantic`; the producing attempts' durations).
 */
export class NodeCacheMetrics {
  private readonly lookups: Counter<'node_type' | 'outcome' | 'match'>;
  private readonly writes: Counter<'node_type' | 'outcome' | 'match'>;
  private readonly waits: Counter<'node_type' | 'outcome'>;
  private readonly saved: Counter<'cache' | 'node_type'>;

  constructor(registry: Registry) {
    this.lookups = new Counter({
      name: 'cache_lookups_total',
      help: 'Cache lookups by node type, outcome (hit, miss, bypass: not cached by policy, error: the store failed) and match (exact, semantic)',
      labelNames: ['node_type', 'outcome', 'match'],
      registers: [registry],
    });
    this.writes = new Counter({
      name: 'cache_writes_total',
      help: 'Executed node results by node type, what became of them (stored, or failed, sensitive, too_large, error) and cache (match: exact, semantic)',
      labelNames: ['node_type', 'outcome', 'match'],
      registers: [registry],
    });
    this.waits = new Counter({
      name: 'cache_waits_total',
      help: 'Node attempts that found an identical one running (single flight), by node type and how they got on',
      labelNames: ['node_type', 'outcome'],
      registers: [registry],
    });
    this.saved = cacheCounters(registry).saved;
    for (const node_type of CACHEABLE_NODE_TYPES) {
      for (const outcome of LOOKUP_OUTCOMES) this.lookups.inc({ node_type, outcome, match: 'exact' }, 0);
      for (const outcome of WRITE_OUTCOMES) this.writes.inc({ node_type, outcome, match: 'exact' }, 0);
      for (const outcome of WAIT_OUTCOMES) this.waits.inc({ node_type, outcome }, 0);
      this.saved.inc({ cache: CACHE_NAME, node_type }, 0);
    }
    const node_type = 'agent';
    for (const outcome of LOOKUP_OUTCOMES) this.lookups.inc({ node_type, outcome, match: 'semantic' }, 0);
    for (const outcome of WRITE_OUTCOMES) this.writes.inc({ node_type, outcome, match: 'semantic' }, 0);
    this.saved.inc({ cache: SEMANTIC_CACHE_NAME, node_type }, 0);
  }

  bypassed(nodeType: string, match: Match = 'exact'): void {
    this.lookups.inc({ node_type: nodeType, outcome: 'bypass', match });
  }

  /** Counted once the write is done when it happens behind (`written`). */
  served(nodeType: string, served: Served): void {
    if (served.outcome !== 'hit' && served.written) {
      const { written, ...rest } = served;
      void written.then((write) => this.served(nodeType, { ...rest, write }));
      return;
    }
    const node_type = nodeType;
    this.lookups.inc({ node_type, outcome: served.outcome, match: 'exact' });
    if (served.waited) this.waits.inc({ node_type, outcome: served.waited });
    if (served.outcome === 'hit') {
      this.saved.inc({ cache: CACHE_NAME, node_type }, served.entry.durationMs / 1000);
    } else if (served.write !== 'skipped') {
      this.writes.inc({ node_type, outcome: served.write, match: 'exact' });
    }
  }

  semanticServed(served: SemanticServed): void {
    const node_type = 'agent';
    this.lookups.inc({ node_type, outcome: served.outcome, match: 'semantic' });
    if (served.outcome === 'hit') {
      this.saved.inc({ cache: SEMANTIC_CACHE_NAME, node_type }, served.entry.durationMs / 1000);
    } else if (served.write !== 'skipped') {
      this.writes.inc({ node_type, outcome: served.write, match: 'semantic' });
    }
  }
}
