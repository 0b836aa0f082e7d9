import { Inject, Injectable, SetMetadata, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import { cacheTracker, type CacheTracker } from '#libs/observability';
import type { AppConfig } from '#libs/config';
import { CONFIG, METRICS_REGISTRY, ProblemError } from '#libs/platform';
import { ApiKeysRepository } from './api-keys.repository.js';
import { allows, type Permission, type Principal } from './principal.js';
import { PrincipalCache } from './principal-cache.js';
import { RateLimits } from './rate-limits.js';

const REQUIRED = 'orchestrator:required-permission';

/** The permission a route needs; routes without it need no key (health, metrics). */
export const Requires = (permission: Permission) => SetMetadata(REQUIRED, permission);

export type AuthenticatedRequest = FastifyRequest & { principal: Principal };

const KNOWN_KEY_TTL_MS = 10_000;
const CACHE_MAX = 10_000;

@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly cache: PrincipalCache;
  private readonly cacheMetrics: CacheTracker;

  constructor(
    private readonly reflector: Reflector,
    private readonly keys: ApiKeysRepository,
    private readonly limits: RateLimits,
    @Inject(CONFIG) config: AppConfig,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.cacheMetrics = cacheTracker(registry, 'api_key');
    this.cache = new PrincipalCache({
      knownTtlMs: KNOWN_KEY_TTL_MS,
      unknownTtlMs: config.API_KEY_NEGATIVE_CACHE_MS,
      maxEntries: CACHE_MAX,
    });
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const needed = this.reflector.getAllAndOverride<Permission | undefined>(REQUIRED, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (!needed) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    // Before the key is looked at: a flood of made-up keys from one address is refused without reaching Postgres.
    await this.limits.take('address', request.ip);
    const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
    if (!match) throw new ProblemError('unauthenticated', 'send the API key as "Authorization: Bearer <key>"');
    const principal = await this.lookup(match[1] as string);
    if (!principal) throw new ProblemError('unauthenticated', 'unknown or revoked API key');
    if (!allows(principal.permission, needed)) {
      throw new ProblemError('forbidden', `this needs a ${needed} key; the key used is ${principal.permission}`);
    }
    await this.limits.take('key', principal.keyId);
    request.principal = principal;
    return true;
  }

  private async lookup(key: string): Promise<Principal | undefined> {
    const now = Date.now();
    const cached = this.cache.get(key, now);
    if (cached !== undefined) {
      this.cacheMetrics.hit();
      return cached ?? undefined;
    }
    const started = performance.now();
    const principal = await this.keys.findByKey(key);
    this.cacheMetrics.miss(1, (performance.now() - started) / 1000);
    this.cache.set(key, principal, now);
    return principal;
  }
}
