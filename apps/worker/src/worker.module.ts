import { Module } from '@nestjs/common';
import { ExpressionsModule } from '#libs/platform';
import { WorkerController } from './worker.controller.js';
import { NodeCacheService } from './node-cache.service.js';
import { WorkerService } from './worker.service.js';

/** Executes node.dispatch.<type> tasks (through the node result cache) and publishes node.completed. */
@Module({ imports: [ExpressionsModule], controllers: [WorkerController], providers: [WorkerService, NodeCacheService] })
export class WorkerModule {}
