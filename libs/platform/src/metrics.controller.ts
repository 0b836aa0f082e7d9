import { Controller, Get, Header, Headers, Inject } from '@nestjs/common';
import { metrics, routerPath } from '#libs/api-contract';
import type { AppConfig } from '#libs/config';
import { metricsRefusal } from './metrics-access.js';
import { Public } from './public-route.js';
import { CONFIG, METRICS_SOURCE } from './tokens.js';

@Controller()
export class MetricsController {
  constructor(
    @Inject(METRICS_SOURCE) private readonly source: () => Promise<string>,
    @Inject(CONFIG) private readonly config: AppConfig,
  ) {}

  /** No API key (Prometheus has none), but METRICS_TOKEN off loopback: see metricsRefusal. */
  @Get(routerPath(metrics))
  @Public()
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  metrics(@Headers('authorization') authorization: string | undefined): Promise<string> {
    const refusal = metricsRefusal(this.config, authorization);
    if (refusal) throw refusal;
    return this.source();
  }
}
