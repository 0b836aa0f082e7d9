import { Inject, Injectable, SetMetadata, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import { cacheTracker, type CacheTracker } from '#libs/observability';
import type { AppConfig } from '#libs/config';
import { CONFIG, LOGGER, METRICS_REGISTRY, ProblemError, PUBLIC_ROUTE } from '#libs/platform';
import type { Logger } from 'pino';
import { ApiKeysRepository } from './api-keys.repository.js';
import { meets, type Principal, type Requirement } from './principal.js';
import { refusesPresentedKey } from './bootstrap-key.js';
import { PrincipalCache } from './principal-cache.js';
import { RateLimits } from './rate-limits.js';

const REQUIRED = 'orchestrator:required-permission';

/** What a route asks of a key. A route needs this or `@Public()`; one with neither is refused to everyone. */
export const Requires = (requirement: Requirement) => SetMetadata(REQUIRED, requirement);

/** Who may call a route, from its decorators (the handler's first, then its controller's); undefined: undeclared. */
export function routeAccess(
  reflector: Reflector,
  targets: [ReturnType<ExecutionContext['getHandler']>, ReturnType<ExecutionContext['getClass']>],
): Requirement | 'public' | undefined {
  if (reflector.getAllAndOverride<boolean | undefined>(PUBLIC_ROUTE, targets)) return 'public';
  return reflector.getAllAndOverride<Requirement | undefined>(REQUIRED, targets);
}

export type AuthenticatedRequest = FastifyRequest & { principal: Principal };

@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly cacheMetrics: CacheTracker;

  constructor(
    private readonly reflector: Reflector,
    private readonly keys: ApiKeysRepository,
    private readonly limits: RateLimits,
    private readonly cache: PrincipalCache,
    @Inject(CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    this.cacheMetrics = cacheTracker(registry, 'api_key');
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    // Global guards also see the Kafka transports' handlers (all-in-one): API keys are an HTTP matter.
    if (context.getType() !== 'http') return true;
    const needed = routeAccess(this.reflector, [context.getHandler(), context.getClass()]);
    if (needed === 'public') return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    if (!needed) {
      this.logger.error({ url: request.url }, 'route declares neither @Requires nor @Public: refused');
      throw new ProblemError('forbidden', 'this route is not open to any API key');
    }
    // Before the key is looked at: a flood of made-up keys from one address is refused without reaching Postgres.
    await this.limits.take('address', request.ip);
    const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
    if (!match) throw new ProblemError('unauthenticated', 'send the API key as "Authorization: Bearer <key>"');
    const key = match[1] as string;
    if (refusesPresentedKey(this.config.HOST, key)) {
      throw new ProblemError('unauthenticated', 'the local default admin key is refused off a loopback address');
    }
    const principal = await this.lookup(key);
    if (!principal) throw new ProblemError('unauthenticated', 'unknown or revoked API key');
    if (!meets(principal, needed)) {
      throw new ProblemError(
        'forbidden',
        needed === 'operator'
          ? "this needs an admin key of an operators' workspace; the key used is not one"
          : `this needs a ${needed} key; the key used is ${principal.permission}`,
      );
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
