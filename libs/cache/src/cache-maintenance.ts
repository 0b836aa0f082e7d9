import { masters, type RedisClient } from '#libs/redis';
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
 * cache stays responsive) and deleting each batch with UNLINK. A SCAN sees one server's keys: in a Redis Cluster every
 * master is walked (the workspace's keys share a hash tag, so all are in one slot, on one master, but which one is the
 * cluster's to say). Entries written meanwhile may survive; a running single flight keeps its lease and stores its
 * result when it finishes. Returns how many entries were deleted.
 */
export async function purgeEntries(
  redis: RedisClient,
  prefix: string,
  workspaceId: string,
  nodeType?: string,
): Promise<number> {
  const match = entryPattern(prefix, workspaceId, nodeType);
  let deleted = 0;
  for (const server of masters(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = await server.scan(cursor, 'MATCH', match, 'COUNT', SCAN_COUNT);
      cursor = next;
      // Through the client, not the server: in a cluster it sends the batch (one slot) wherever that slot is now.
      if (keys.length) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
  }
  return deleted;
}

/**
 * A workspace's cache lookups per node type from the hour `since` falls in to the hour of `until` (the counters are
 * hourly: the window starts at a full hour). One round trip (a pipeline of HGETALLs, every key under the workspace's
 * hash tag: one slot, so one Redis Cluster node answers it all).
 */
export async function countLookups(
  redis: RedisClient,
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
