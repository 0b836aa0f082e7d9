import { Controller, Get, Inject, Query, Req } from '@nestjs/common';
import { Requires, type AuthenticatedRequest } from '#libs/auth';
import type { Pool } from '#libs/db';
import { PG_POOL, ProblemError } from '#libs/platform';
import { CACHEABLE_NODE_TYPES } from '#libs/workflows';
import { positiveInt } from '../request-checks.js';
import { listCacheHits, type CacheHitCursor, type CacheHitView } from './cache-hits.sql.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The node result cache's audit trail: which node outputs of the caller's workspace came from the cache. */
@Controller('v1/cache')
export class CacheHitsController {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  /** Newest first; `after` is the previous page's `next` cursor. */
  @Get('hits')
  @Requires('read')
  async hits(
    @Req() request: AuthenticatedRequest,
    @Query('runId') runId: string | undefined,
    @Query('fromRunId') fromRunId: string | undefined,
    @Query('nodeType') nodeType: string | undefined,
    @Query('after') after: string | undefined,
    @Query('limit') limit: string | undefined,
  ): Promise<{ hits: CacheHitView[]; next: string | null }> {
    const size = Math.max(1, positiveInt(limit, 'limit', 100, 1000));
    if (nodeType !== undefined && !(CACHEABLE_NODE_TYPES as readonly string[]).includes(nodeType)) {
      throw new ProblemError('malformed_request', `nodeType must be one of ${CACHEABLE_NODE_TYPES.join(', ')}`);
    }
    const page = await listCacheHits(this.pool, request.principal.workspaceId, {
      runId: uuidParam(runId, 'runId'),
      fromRunId: uuidParam(fromRunId, 'fromRunId'),
      nodeType,
      after: after === undefined ? undefined : decodeCursor(after),
      limit: size,
    });
    const query = new URLSearchParams({
      ...(runId === undefined ? {} : { runId }),
      ...(fromRunId === undefined ? {} : { fromRunId }),
      ...(nodeType === undefined ? {} : { nodeType }),
      limit: String(size),
    });
    if (page.hits.length === size && page.last) query.set('after', encodeCursor(page.last));
    return { hits: page.hits, next: query.has('after') ? `/v1/cache/hits?${query.toString()}` : null };
  }
}

function uuidParam(value: string | undefined, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (!UUID.test(value)) throw new ProblemError('malformed_request', `${name} must be a uuid`);
  return value.toLowerCase();
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
