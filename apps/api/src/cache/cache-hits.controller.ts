import { Controller, Inject, Req } from '@nestjs/common';
import { listCacheHits as listCacheHitsRoute, type RouteInput, type RouteOutput } from '#libs/api-contract';
import { Input, ServesRoute, type AuthenticatedRequest } from '#libs/auth';
import type { Pool } from '#libs/db';
import { PG_POOL, ProblemError } from '#libs/platform';
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

const encodeCursor = (cursor: CacheHitCursor): string => Buffer.from(JSON.stringify(cursor)).toString('base64url');

function decodeCursor(text: string): CacheHitCursor {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  if (
    !Array.isArray(value) ||
    value.length !== 4 ||
    typeof value[0] !== 'string' ||
    Number.isNaN(Date.parse(value[0])) ||
    typeof value[1] !== 'string' ||
    !UUID.test(value[1]) ||
    typeof value[2] !== 'string' ||
    !Number.isInteger(value[3])
  ) {
    throw new ProblemError('malformed_request', 'after must be the cursor of a previous page (its next link)');
  }
  return value as unknown as CacheHitCursor;
}
