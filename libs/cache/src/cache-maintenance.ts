import type { Redis } from 'ioredis';
import { lookupCounterKey, workspaceSlot } from './cache-key.js';

const HOUR_MS = 3_600_000;
/** Keys asked for per SCAN call and deleted per UNLINK. */
const SCAN_COUNT = 500;

/** Redis glob pattern characters of `text` escaped, so a deployment prefix like `a*b:` matches only itself. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\^]/g, (c) => `\\${c}`);
}

/** The SCAN pattern of a workspace's entries: every node type, or one. Leases and counters are not entries. */
export function entryPattern(prefix: string, workspaceId: string, nodeType?: string): string {
  const slot = escapeGlob(workspaceSlot(prefix, workspaceId));
  return nodeType === undefined ? `${slot}:node:*` : `${slot}:node:${escapeGlob(nodeType)}:*`;
}

/**
 * Deletes a workspace's cached node results (of one node type, or all), walking its keys with SCAN (never KEYS: the
 * cache stays responsive) and deleting each batch with UNLINK. Entries written meanwhile may survive; a running
 * single flight keeps its lease and stores its result when it finishes. Returns how many entries were deleted.
 */
export async function purgeEntries(
  redis: Redis,
  prefix: string,
  workspaceId: string,
  nodeType?: string,
): Promise<number> {
  const match = entryPattern(prefix, workspaceId, nodeType);
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', SCAN_COUNT);
    cursor = next;
    if (keys.length) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

/**
 * A workspace's cache lookups per node type from the hour `since` falls in to the hour of `until` (the counters are
 * hourly: the window starts at a full hour). One round trip (a pipeline of HGETALLs).
 */
export async function countLookups(
  redis: Redis,
  prefix: string,
  workspaceId: string,
  since: number,
  until: number,
): Promise<Map<string, number>> {
  const slot = workspaceSlot(prefix, workspaceId);
  const pipeline = redis.pipeline();
  for (let at = Math.floor(since / HOUR_MS) * HOUR_MS; at <= until; at += HOUR_MS) {
    pipeline.hgetall(lookupCounterKey(slot, at));
  }
  const replies = (await pipeline.exec()) ?? [];
  const counts = new Map<string, number>();
  for (const [error, hash] of replies) {
    if (error) throw error;
    for (const [nodeType, count] of Object.entries(hash as Record<string, string>)) {
      counts.set(nodeType, (counts.get(nodeType) ?? 0) + Number(count));
    }
  }
  return counts;
}
