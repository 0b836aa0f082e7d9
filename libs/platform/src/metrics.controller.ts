import { Controller, Get, Header, Inject } from '@nestjs/common';
import { METRICS_SOURCE } from './tokens.js';
import { Public } from './public-route.js';

@Controller()
export class MetricsController {
  constructor(@Inject(METRICS_SOURCE) private readonly source: () => Promise<string>) {}

  @Get('metrics')
  @Public()
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  metrics(): Promise<string> {
    return this.source();
  }
}
