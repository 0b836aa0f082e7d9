import { Module } from '@nestjs/common';
import { ExpressionsModule } from '#libs/platform';
import { WorkerController } from './worker.controller.js';
import { WorkerService } from './worker.service.js';

/** Executes node.dispatch.<type> tasks and publishes node.completed. */
@Module({ imports: [ExpressionsModule], controllers: [WorkerController], providers: [WorkerService] })
export class WorkerModule {}
