import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NodeCacheKey } from './cache-key.js';
import { SETTLED, type RedisCacheStore } from './redis-cache-store.js';
import type { SensitiveDataCheck } from './sensitive-data.js';

/**
 * One node attempt's result: a failure is a value, never cached. `fromCache: true` marks a result another cache served
 * (the semantic cache): it names another run as its producer, so it is not stored again under this attempt.
 */
export type NodeResult = { ok: true; output: unknown; fromCache?: true } | { ok: false; error: string };

/** A cached result and where it came from. */
export interface CacheEntry {
  readonly output: unknown;
  readonly runId: string;
  readonly nodeId: string;
  /** epoch ms: when the producing attempt finished */
  readonly producedAt: number;
  /** How long the producing attempt took: what each hit saves. */
  readonly durationMs: number;
}

/** hit: served from the cache; miss: executed; error: executed because Redis did not answer. */
export type LookupOutcome = 'hit' | 'miss' | 'error';
/** What became of an executed result: stored, or why not. */
export type WriteOutcome = 'stored' | 'failed' | 'sensitive' | 'too_large' | 'error' | 'skipped';
/**
 * How a task that found another one computing the same result got on: it got that result (joined), took over from a
 * holder that died (its lease lapsed), or ran itself because the holder had no result to share, took too long, or
 * Redis stopped answering.
 */
export type WaitOutcome = 'joined' | 'took_over' | 'holder_failed' | 'timed_out' | 'error';

export type Served =
  | { readonly outcome: 'hit'; readonly entry: CacheEntry; readonly waited?: WaitOutcome }
  | {
      readonly outcome: 'miss' | 'error';
      readonly result: NodeResult;
      readonly durationMs: number;
      /** With `writeBehind`, the write that is under way (`written` settles with what became of it). */
      readonly write: WriteOutcome;
      /** With `writeBehind`: the write to Redis and the lease's release; never rejects. */
      readonly written?: Promise<WriteOutcome>;
      /** Which detector kept the result out of the cache. */
      readonly sensitive?: string;
      readonly waited?: WaitOutcome;
    };

/** One node attempt's way through the cache. */
export interface CacheRequest {
  readonly key: NodeCacheKey;
  readonly ttlMs: number;
  /** The attempt: named in the entry as the result's producer. */
  readonly runId: string;
  readonly nodeId: string;
  /** epoch ms; a task waits for another's result at most half of the time left to it */
  readonly deadlineAt: number | null;
  /**
   * Return the executed result before it is stored: the caller (a worker) can send it on at once, and awaits
   * `written` afterwards. Waiters for the lease get the entry a round trip later; nobody gets a different result.
   */
  readonly writeBehind?: boolean;
}

export interface NodeResultCacheOptions {
  /** CACHE_LEASE_MS: the single-flight lease, renewed by its holder every third of it */
  readonly leaseMs: number;
  /** CACHE_WAIT_MS: the longest a task waits for another's result (0: never) */
  readonly waitMs: number;
  /** CACHE_MAX_ENTRY_BYTES: larger results (as JSON) are not cached */
  readonly maxEntryBytes: number;
  readonly sensitive: SensitiveDataCheck;
  /** First poll interval while waiting; it grows by half each time up to 250 ms. */
  readonly pollMs?: number;
}

const ENTRY_VERSION = 1;
const MAX_POLL_MS = 250;

/**
 * The node result cache: looks a node attempt up by its key, and on a miss executes it and keeps its result, unless
 * the result is a failure, too large, or holds sensitive data. Concurrent identical misses run once (single flight):
 * the first takes a lease in Redis and renews it while it runs; the others poll for its result, and run themselves
 * when it ends without one, when its lease lapses (it died), or when they have waited long enough.
 *
 * Redis failing is never the node's failure: a lookup that fails executes the node without the cache (`error`), and
 * a failed write only loses the entry. Every command is bounded by the client's command timeout.
 *
 * The execution passed in may itself consult another cache (the semantic cache of agent nodes, say): this one only
 * sees a result and how long it took.
 */
export class NodeResultCache {
  private readonly pollMs: number;

  constructor(
    private readonly store: RedisCacheStore,
    private readonly options: NodeResultCacheOptions,
  ) {
    this.pollMs = options.pollMs ?? 20;
  }

  async through(request: CacheRequest, execute: () => Promise<NodeResult>): Promise<Served> {
    const token = randomUUID();
    let found: { entry: string } | { leased: boolean };
    try {
      found = await this.store.lookup(request.key, token, this.options.leaseMs);
    } catch {
      return this.executeUncached(execute, 'error');
    }
    if ('entry' in found) {
      const entry = parseEntry(found.entry);
      if (entry) return { outcome: 'hit', entry };
      // An entry this version cannot read: run, and write over it.
      return this.executeAndStore(request, '', execute);
    }
    const holder = found.leased;
    if (holder) return this.executeAsHolder(request, token, execute);
    const waited = await this.waitForHolder(request, token);
    if (waited.kind === 'entry') return { outcome: 'hit', entry: waited.entry, waited: 'joined' };
    if (waited.kind === 'holder') return this.executeAsHolder(request, token, execute, 'took_over');
    if (waited.outcome === 'error') return this.executeUncached(execute, 'error', 'error');
    // The holder failed or is slow: run, and keep a result worth keeping for those who come later.
    return this.executeAndStore(request, '', execute, waited.outcome);
  }

  private async executeUncached(
    execute: () => Promise<NodeResult>,
    outcome: 'error',
    waited?: WaitOutcome,
  ): Promise<Served> {
    const started = Date.now();
    const result = await execute();
    return {
      outcome,
      result,
      durationMs: Date.now() - started,
      write: 'skipped',
      ...(waited ? { waited } : {}),
    };
  }

  /** Runs the node while holding the lease, renewing it, then stores the result and hands the lease back. */
  private async executeAsHolder(
    request: CacheRequest,
    token: string,
    execute: () => Promise<NodeResult>,
    waited?: WaitOutcome,
  ): Promise<Served> {
    const { leaseMs } = this.options;
    const renewal = setInterval(() => {
      this.store.renewLease(request.key, token, leaseMs).catch(() => undefined);
    }, leaseMs / 3);
    renewal.unref();
    try {
      return await this.executeAndStore(request, token, execute, waited);
    } finally {
      clearInterval(renewal);
    }
  }

  private async executeAndStore(
    request: CacheRequest,
    token: string,
    execute: () => Promise<NodeResult>,
    waited?: WaitOutcome,
  ): Promise<Served> {
    const started = Date.now();
    let result: NodeResult;
    try {
      result = await execute();
    } catch (error) {
      // Whoever waits for this lease runs the node itself rather than wait for the lease to lapse.
      if (token) await this.store.finish(request.key, token, null, this.settledMs()).catch(() => undefined);
      throw error;
    }
    const finishedAt = Date.now();
    const durationMs = finishedAt - started;
    const kept = this.entryText(request, result, finishedAt, durationMs);
    const written = this.store
      .finish(
        request.key,
        token,
        kept.text === undefined ? null : { text: kept.text, ttlMs: request.ttlMs },
        this.settledMs(),
      )
      .then(
        (): WriteOutcome => kept.write,
        (): WriteOutcome => (kept.write === 'stored' ? 'error' : kept.write),
      );
    const served = {
      outcome: 'miss',
      result,
      durationMs,
      ...(kept.sensitive ? { sensitive: kept.sensitive } : {}),
      ...(waited ? { waited } : {}),
    } as const;
    return request.writeBehind ? { ...served, write: kept.write, written } : { ...served, write: await written };
  }

  /** The entry to store for a result, or why none is. */
  private entryText(
    request: CacheRequest,
    result: NodeResult,
    producedAt: number,
    durationMs: number,
  ): { text?: string; write: WriteOutcome; sensitive?: string } {
    if (!result.ok) return { write: 'failed' };
    if (result.fromCache) return { write: 'skipped' };
    const output = JSON.stringify(result.output ?? null);
    if (Buffer.byteLength(output) > this.options.maxEntryBytes) return { write: 'too_large' };
    const sensitive = this.options.sensitive(result.output);
    if (sensitive) return { write: 'sensitive', sensitive };
    const { runId, nodeId } = request;
    const head = JSON.stringify({ v: ENTRY_VERSION, runId, nodeId, producedAt, durationMs });
    // The output's JSON spliced in as it is, rather than parsed again into the head.
    return { text: `${head.slice(0, -1)},"output":${output}}`, write: 'stored' };
  }

  /** How long a "settled" lease tells waiters to run themselves: long enough for every waiter's next poll. */
  private settledMs(): number {
    return MAX_POLL_MS * 4;
  }

  /** Polls until the holder's result appears, the lease is free to take, or waiting is no use any more. */
  private async waitForHolder(
    request: CacheRequest,
    token: string,
  ): Promise<
    | { kind: 'entry'; entry: CacheEntry }
    | { kind: 'holder' }
    | { kind: 'run'; outcome: Exclude<WaitOutcome, 'joined' | 'took_over'> }
  > {
    const now = Date.now();
    const left = request.deadlineAt === null ? Infinity : (request.deadlineAt - now) / 2;
    const until = now + Math.min(this.options.waitMs, left);
    let pollMs = this.pollMs;
    while (Date.now() < until) {
      await sleep(Math.min(pollMs, Math.max(1, until - Date.now())));
      pollMs = Math.min(MAX_POLL_MS, pollMs * 1.5);
      try {
        const { entry, lease } = await this.store.poll(request.key);
        const parsed = parseEntry(entry);
        if (parsed) return { kind: 'entry', entry: parsed };
        if (lease === SETTLED) return { kind: 'run', outcome: 'holder_failed' };
        // No entry and no lease: its holder died (the lease lapsed). Take over, for the others still waiting.
        if (lease === null && (await this.store.takeLease(request.key, token, this.options.leaseMs))) {
          return { kind: 'holder' };
        }
      } catch {
        return { kind: 'run', outcome: 'error' };
      }
    }
    return { kind: 'run', outcome: 'timed_out' };
  }
}

/** An entry's text as stored, or null when there is none or it is not one this version wrote. */
function parseEntry(text: string | null): CacheEntry | null {
  if (text === null) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || !('output' in value)) return null;
  const entry = value as Record<string, unknown>;
  if (
    entry.v !== ENTRY_VERSION ||
    typeof entry.runId !== 'string' ||
    typeof entry.nodeId !== 'string' ||
    typeof entry.producedAt !== 'number' ||
    typeof entry.durationMs !== 'number'
  ) {
    return null;
  }
  return {
    output: entry.output,
    runId: entry.runId,
    nodeId: entry.nodeId,
    producedAt: entry.producedAt,
    durationMs: entry.durationMs,
  };
}
