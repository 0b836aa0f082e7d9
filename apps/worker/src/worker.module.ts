import { Module } from '@nestjs/common';
import { WorkerController } from './worker.controller.js';
import { WorkerService } from './worker.service.js';

/** Executes node.dispatch.<type> tasks and publishes node.completed. */
@Module({ controllers: [WorkerController], providers: [WorkerService] })
export class WorkerModule {}
