import { Controller, Inject, Req } from '@nestjs/common';
import type { Logger } from 'pino';
import { getCacheStats, purgeCache, type RouteInput, type RouteOutput } from '#libs/api-contract';
import { Input, ServesRoute, type AuthenticatedRequest } from '#libs/auth';
import { countLookups, LOOKUP_COUNTER_TTL_MS, purgeEntries } from '#libs/cache';
import type { AppConfig } from '#libs/config';
import type { Pool } from '#libs/db';
import { CONFIG, LOGGER, PG_POOL, ProblemError } from '#libs/platform';
import { CacheRedis } from './cache-redis.js';
import { SemanticCacheAdmin } from './semantic-cache-admin.js';
import { cacheStats } from './cache-stats.js';
import { hitGroups } from './cache-stats.sql.js';

const HOUR_MS = 3_600_000;
const DEFAULT_WINDOW_MS = 24 * HOUR_MS;
/** The lookup counters live this long; a window reaching further back would count hits without their lookups. */
const MAX_WINDOW_MS = LOOKUP_COUNTER_TTL_MS - HOUR_MS;

/** What the node result cache earns a workspace, and an admin's way to empty it. Own workspace only. */
@Controller()
export class CacheStatsController {
  private readonly logger: Logger;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) logger: Logger,
    private readonly cache: CacheRedis,
    private readonly semantic: SemanticCacheAdmin,
  ) {
    this.logger = logger.child({ component: 'cache-stats' });
  }

  /** Hits, lookups, hit rate, time and estimated cost saved since `since` (ISO 8601, default 24 h ago). */
  @ServesRoute(getCacheStats)
  async stats(
    @Req() request: AuthenticatedRequest,
    @Input(getCacheStats) { query: { workspaceId, since } }: RouteInput<typeof getCacheStats>,
  ): Promise<RouteOutput<typeof getCacheStats>> {
    const workspace = ownWorkspace(request, workspaceId);
    const until = new Date();
    const from = windowStart(since, until.getTime());
    const [groups, lookups] = await Promise.all([
      hitGroups(this.pool, workspace, from, until),
      this.cache
        .use((redis) => countLookups(redis, this.config.REDIS_KEY_PREFIX, workspace, from.getTime(), until.getTime()))
        .catch((error: unknown) => {
          // Hits and savings are Postgres's: still worth answering without the lookups.
          this.logger.warn({ err: error }, 'cache lookup counters unavailable');
          return null;
        }),
    ]);
    return cacheStats({ workspaceId: workspace, since: from, until }, groups, lookups, this.config.CACHE_TOKEN_PRICES);
  }

  /**
   * Deletes the workspace's cached node results (of one node type with `nodeType`), and its agent answers in the
   * semantic cache where it is on (unless another node type is named). Admin keys only. `deleted` counts both.
   */
  @ServesRoute(purgeCache)
  async purge(
    @Req() request: AuthenticatedRequest,
    @Input(purgeCache) { query: { workspaceId, nodeType } }: RouteInput<typeof purgeCache>,
  ): Promise<RouteOutput<typeof purgeCache>> {
    const workspace = ownWorkspace(request, workspaceId);
    const exact = await this.cache.use((redis) =>
      purgeEntries(redis, this.config.REDIS_KEY_PREFIX, workspace, nodeType),
    );
    const semantic = nodeType === undefined || nodeType === 'agent' ? await this.semantic.purge(workspace) : null;
    this.logger.info({ workspaceId: workspace, nodeType, exact, semantic }, 'node result cache purged');
    return { workspaceId: workspace, nodeType: nodeType ?? null, deleted: exact + (semantic ?? 0), exact, semantic };
  }
}

/** A key reads and changes its own workspace only: naming another is refused, not answered with empty numbers. */
function ownWorkspace(request: AuthenticatedRequest, workspaceId: string | undefined): string {
  const own = request.principal.workspaceId;
  if (workspaceId === undefined) return own;
  if (workspaceId !== own.toLowerCase()) {
    throw new ProblemError('forbidden', "an API key reads and changes only its own workspace's cache");
  }
  return own;
}

/** `since` rounded down to its hour (the lookup counters are hourly), 24 h back by default, at most 30 days back. */
function windowStart(since: string | undefined, now: number): Date {
  const at = since === undefined ? now - DEFAULT_WINDOW_MS : Date.parse(since);
  if (since !== undefined && (!/^\d{4}-\d{2}-\d{2}T/.test(since) || Number.isNaN(at))) {
    throw new ProblemError('malformed_request', 'since must be an ISO 8601 time, such as 2026-12-01T00:00:00Z');
  }
  if (at > now) throw new ProblemError('malformed_request', 'since must not be in the future');
  if (now - at > MAX_WINDOW_MS) {
    throw new ProblemError('malformed_request', `since must be at most ${MAX_WINDOW_MS / HOUR_MS} hours ago`);
  }
  return new Date(Math.floor(at / HOUR_MS) * HOUR_MS);
}
