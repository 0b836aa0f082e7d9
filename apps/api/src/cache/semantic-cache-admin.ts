import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { openSemanticCacheStore, semanticCacheOn, type SemanticCacheStore } from '#libs/cache';
import type { AppConfig } from '#libs/config';
import type { Pool } from '#libs/db';
import { CONFIG, ProblemError } from '#libs/platform';

/** Operators' requests may take longer than a node's lookup; still bounded. */
const QUERY_TIMEOUT_MS = 5_000;

/**
 * The API's way into the semantic cache (VECTOR_DATABASE_URL), for purges. Present where the configuration turns the
 * semantic cache on, as it does for the workers; elsewhere there is nothing of it to purge.
 */
@Injectable()
export class SemanticCacheAdmin implements OnApplicationShutdown {
  private readonly opened: { store: SemanticCacheStore; pool: Pool } | undefined;

  constructor(@Inject(CONFIG) config: AppConfig) {
    if (!semanticCacheOn(config)) return;
    this.opened = openSemanticCacheStore(
      { ...config, VECTOR_DATABASE_TIMEOUT_MS: QUERY_TIMEOUT_MS, VECTOR_DATABASE_POOL_MAX: 1 },
      'semantic-cache-admin',
    );
  }

  /** Deletes the workspace's semantic cache entries: how many, or null when the semantic cache is off here. */
  async purge(workspaceId: string): Promise<number | null> {
    if (!this.opened) return null;
    try {
      return await this.opened.store.purgeWorkspace(workspaceId);
    } catch (error) {
      throw new ProblemError(
        'dependency_unavailable',
        'the semantic cache (VECTOR_DATABASE_URL) is unavailable',
        undefined,
        {
          cause: error,
        },
      );
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.opened?.pool.end();
  }
}
