import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ApiKeyGuard } from './api-key.guard.js';
import { ApiKeysRepository } from './api-keys.repository.js';
import type { AppConfig } from '#libs/config';
import { CONFIG } from '#libs/platform';
import { PrincipalCache } from './principal-cache.js';
import { RateLimits } from './rate-limits.js';

/** Known keys are remembered this long per process: how long a key revoked through another process keeps working. */
const KNOWN_KEY_TTL_MS = 10_000;
const CACHE_MAX_ENTRIES = 10_000;

/**
 * API-key authentication for every HTTP role that serves tenant data (api, fanout). Imported by each; Nest keeps one
 * instance of a module per app, so in the all-in-one process the guard is registered once.
 */
@Module({
  providers: [
    ApiKeysRepository,
    RateLimits,
    {
      provide: PrincipalCache,
      inject: [CONFIG],
      useFactory: (config: AppConfig) =>
        new PrincipalCache({
          knownTtlMs: KNOWN_KEY_TTL_MS,
          unknownTtlMs: config.API_KEY_NEGATIVE_CACHE_MS,
          maxEntries: CACHE_MAX_ENTRIES,
        }),
    },
    { provide: APP_GUARD, useClass: ApiKeyGuard },
  ],
  exports: [ApiKeysRepository, RateLimits, PrincipalCache],
})
export class AuthModule {}
