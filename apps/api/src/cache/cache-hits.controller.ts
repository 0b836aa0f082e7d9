import { Controller, Inject, Req } from '@nestjs/common';
import { listCacheHits as listCacheHitsRoute, type RouteInput, type RouteOutput } from '#libs/api-contract';
import { Input, ServesRoute, type AuthenticatedRequest } from '#libs/auth';
import type { Pool } from '#libs/db';
import { PG_POOL } from '#libs/platform';
import { decodeCursorParts, encodeCursor } from '../page-cursor.js';
import { listCacheHits, type CacheHitCursor } from './cache-hits.sql.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The node result cache's audit trail: which node outputs of the caller's workspace came from the cache. */
@Controller()
export class CacheHitsController {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  /** Newest first; `after` is the previous page's `next` cursor. */
  @ServesRoute(listCacheHitsRoute)
  async hits(
    @Req() request: AuthenticatedRequest,
    @Input(listCacheHitsRoute) { query: filter }: RouteInput<typeof listCacheHitsRoute>,
  ): Promise<RouteOutput<typeof listCacheHitsRoute>> {
    const { runId, fromRunId, nodeType, limit } = filter;
    const page = await listCacheHits(this.pool, request.principal.workspaceId, {
      runId,
      fromRunId,
      nodeType,
      after: filter.after === undefined ? undefined : decodeCursor(filter.after),
      limit,
    });
    const query = new URLSearchParams({
      ...(runId === undefined ? {} : { runId }),
      ...(fromRunId === undefined ? {} : { fromRunId }),
      ...(nodeType === undefined ? {} : { nodeType }),
      limit: String(limit),
    });
    if (page.hits.length === limit && page.last) query.set('after', encodeCursor(page.last));
    return { hits: page.hits, next: query.has('after') ? `/v1/cache/hits?${query.toString()}` : null };
  }
}

const isHitCursor = (parts: readonly unknown[]): parts is CacheHitCursor =>
  parts.length === 4 &&
  typeof parts[0] === 'string' &&
  !Number.isNaN(Date.parse(parts[0])) &&
  typeof parts[1] === 'string' &&
  UUID.test(parts[1]) &&
  typeof parts[2] === 'string' &&
  Number.isInteger(parts[3]);

const decodeCursor = (text: string): CacheHitCursor => decodeCursorParts(text, isHitCursor);
