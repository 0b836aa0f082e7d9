import { Inject, Injectable, Module, type BeforeApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { STREAM_ROUTES } from '#apps/fanout/src/stream-routes.js';
import type { AppConfig } from '#libs/config';
import { CONFIG, LOGGER, ROLES } from '#libs/platform';
import { FanoutProxy } from './fanout-proxy.js';

/**
 * Registers the fanout's routes on the API as a proxy to FANOUT_URL, unless the fanout role runs in this same app (the
 * all-in-one process), where its own controller serves them: a route registered twice would fail the start. The
 * decision needs the app's roles, which only exist at runtime, so these are plain Fastify routes added at module init
 * rather than a Nest controller; the fanout's guard and filter answer for them.
 */
@Injectable()
class FanoutProxyRoutes implements OnModuleInit, BeforeApplicationShutdown {
  private proxy: FanoutProxy | undefined;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(ROLES) private readonly roles: readonly string[],
    @Inject(CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onModuleInit(): void {
    if (this.roles.includes('fanout')) return;
    const proxy = new FanoutProxy(this.config.FANOUT_URL, this.logger.child({ component: 'fanout-proxy' }));
    this.proxy = proxy;
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    for (const url of STREAM_ROUTES) {
      fastify.route({
        method: 'GET',
        url,
        exposeHeadRoute: false,
        handler: (request, reply) => proxy.forward(request, reply),
      });
    }
  }

  beforeApplicationShutdown(): void {
    this.proxy?.closeAll();
  }
}

/** GET /v1/runs/{id}/events and /v1/workflows/{id}/events on the API address, forwarded to the fanout. */
@Module({ providers: [FanoutProxyRoutes] })
export class FanoutProxyModule {}
