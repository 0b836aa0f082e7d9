import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ApiKeyGuard } from './api-key.guard.js';
import { ApiKeysRepository } from './api-keys.repository.js';
import { RateLimits } from './rate-limits.js';

/**
 * API-key authentication for every HTTP role that serves tenant data (api, fanout). Imported by each; Nest keeps one
 * instance of a module per app, so in the all-in-one process the guard is registered once.
 */
@Module({
  providers: [ApiKeysRepository, RateLimits, { provide: APP_GUARD, useClass: ApiKeyGuard }],
  exports: [ApiKeysRepository, RateLimits],
})
export class AuthModule {}
