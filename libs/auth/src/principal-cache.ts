import type { Principal } from './principal.js';

/** What the cache knows of a key: its principal, `null` (known to be unknown or revoked), or nothing. */
export type CachedLookup = Principal | null | undefined;

/**
 * API key lookups remembered for a while, per process. Known keys are kept longer (a lookup per request would put
 * Postgres on every call's path); unknown ones briefly, so one bad key repeated in a flood costs one query per TTL,
 * yet a key created a moment ago is not refused for long. Revocation takes effect within `knownTtlMs`.
 */
export class PrincipalCache {
  private readonly entries = new Map<string, { principal: Principal | null; expires: number }>();

  constructor(private readonly options: { knownTtlMs: number; unknownTtlMs: number; maxEntries: number }) {}

  get(key: string, now: number): CachedLookup {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expires > now) return entry.principal;
    this.entries.delete(key);
    return undefined;
  }

  set(key: string, principal: Principal | undefined, now: number): void {
    const ttl = principal ? this.options.knownTtlMs : this.options.unknownTtlMs;
    if (ttl <= 0) return;
    // Crude but bounded: a flood of distinct keys empties the cache rather than growing it.
    if (this.entries.size >= this.options.maxEntries) this.entries.clear();
    this.entries.set(key, { principal: principal ?? null, expires: now + ttl });
  }

  /** Forgets a key at once (revoked through this process; other processes drop it within `knownTtlMs`). */
  forgetKeyId(keyId: string): void {
    for (const [key, entry] of this.entries) if (entry.principal?.keyId === keyId) this.entries.delete(key);
  }
}
