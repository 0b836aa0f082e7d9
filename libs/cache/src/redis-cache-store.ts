import type { RedisClient } from '#libs/redis';
import { lookupCounterKey, type NodeCacheKey } from './cache-key.js';

/** How long a workspace's hourly lookup counters are kept: the longest window the cache's stats look back over. */
export const LOOKUP_COUNTER_TTL_MS = 31 * 24 * 3_600_000;

/** What a lease holds once its holder finished without a result to share (a failure, a result not to be cached). */
export const SETTLED = 'settled';

type Script = (...args: (string | number)[]) => Promise<unknown>;

/**
 * The node result cache's Redis commands. Each touches only keys of one workspace (one hash tag), so the two scripts
 * that touch an entry and its lease together also run on Redis Cluster. Errors (Redis down, a command past the
 * client's commandTimeout) are the caller's to treat as "no cache".
 */
export class RedisCacheStore {
  private readonly lookupScript: Script;
  private readonly renewScript: Script;
  private readonly finishScript: Script;

  constructor(private readonly redis: RedisClient) {
    redis.defineCommand('nodeCacheLookup', {
      numberOfKeys: 3,
      // A miss takes the lease in the same round trip (most lookups of a fresh input are misses): the entry, or
      // {false, 1} when the lease is now the caller's, or {false, 0} when another task holds it. Every lookup counts
      // itself in the workspace's counter of the hour (per node type), in the same round trip.
      lua: `if redis.call('HINCRBY', KEYS[3], ARGV[3], 1) == 1 then redis.call('PEXPIRE', KEYS[3], ARGV[4]) end
            local entry = redis.call('GET', KEYS[1])
            if entry then return {entry, 0} end
            if redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2], 'NX') then return {false, 1} end
            return {false, 0}`,
    });
    redis.defineCommand('nodeCacheRenewLease', {
      numberOfKeys: 1,
      // Only its holder extends a lease (a lapsed one may belong to another task by now).
      lua: `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
            return 0`,
    });
    redis.defineCommand('nodeCacheFinish', {
      numberOfKeys: 2,
      // Stores the entry (if any), then hands the lease back: deleted when there is an entry for the waiters to find,
      // else replaced by a short-lived "settled" mark that sends them to run the node themselves at once.
      lua: `if ARGV[2] ~= '' then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
            if redis.call('GET', KEYS[2]) == ARGV[1] then
              if ARGV[2] ~= '' then redis.call('DEL', KEYS[2])
              else redis.call('SET', KEYS[2], '${SETTLED}', 'PX', ARGV[4]) end
            end
            return 1`,
    });
    const scripts = redis as unknown as Record<'nodeCacheLookup' | 'nodeCacheRenewLease' | 'nodeCacheFinish', Script>;
    this.lookupScript = scripts.nodeCacheLookup.bind(redis);
    this.renewScript = scripts.nodeCacheRenewLease.bind(redis);
    this.finishScript = scripts.nodeCacheFinish.bind(redis);
  }

  /**
   * The entry's text, if there is one; else whether the lease (for `ms`) is now `token`'s. Counts the lookup for the
   * hour of `at` (epoch ms). One round trip.
   */
  async lookup(
    key: NodeCacheKey,
    token: string,
    ms: number,
    at: number = Date.now(),
  ): Promise<{ entry: string } | { leased: boolean }> {
    const counter = lookupCounterKey(key.slot, at);
    const [entry, leased] = (await this.lookupScript(
      key.entry,
      key.lease,
      counter,
      token,
      ms,
      key.nodeType,
      LOOKUP_COUNTER_TTL_MS,
    )) as [string | null, number];
    return typeof entry === 'string' ? { entry } : { leased: leased === 1 };
  }

  /** The entry's text and the lease's holder token (or SETTLED), in one round trip. */
  async poll(key: NodeCacheKey): Promise<{ entry: string | null; lease: string | null }> {
    const [entry = null, lease = null] = await this.redis.mget(key.entry, key.lease);
    return { entry, lease };
  }

  /** Takes the lease for `ms` unless someone holds it (SET NX PX). */
  async takeLease(key: NodeCacheKey, token: string, ms: number): Promise<boolean> {
    return (await this.redis.set(key.lease, token, 'PX', ms, 'NX')) === 'OK';
  }

  async renewLease(key: NodeCacheKey, token: string, ms: number): Promise<boolean> {
    return (await this.renewScript(key.lease, token, ms)) === 1;
  }

  /**
   * Stores the entry for `ttlMs` (when given) and releases the lease if `token` still holds it; without an entry the
   * lease becomes SETTLED for `settledMs`.
   */
  async finish(
    key: NodeCacheKey,
    token: string,
    entry: { text: string; ttlMs: number } | null,
    settledMs: number,
  ): Promise<void> {
    await this.finishScript(key.entry, key.lease, token, entry?.text ?? '', entry?.ttlMs ?? 0, settledMs);
  }
}
