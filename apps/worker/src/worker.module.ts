import { Module } from '@nestjs/common';
import type { Registry } from 'prom-client';
import { NodeCacheMetrics } from '#libs/cache';
import { ExpressionsModule, METRICS_REGISTRY } from '#libs/platform';
import { WorkerController } from './worker.controller.js';
import { NodeCacheService } from './node-cache.service.js';
import { SemanticCacheService } from './semantic-cache.service.js';
import { WorkerService } from './worker.service.js';

/**
 * Executes node.dispatch.<type> tasks (through the node result cache, and agent nodes through the semantic cache) and
 * publishes node.completed.
 */
@Module({
  imports: [ExpressionsModule],
  controllers: [WorkerController],
  providers: [
    WorkerService,
    NodeCacheService,
    SemanticCacheService,
    {
      provide: NodeCacheMetrics,
      useFactory: (registry: Registry) => new NodeCacheMetrics(registry),
      inject: [METRICS_REGISTRY],
    },
  ],
})
export class WorkerModule {}
