import { Module } from '@nestjs/common';
import { ExpressionsModule } from '#libs/platform';
import { CoordinatorController } from './coordinator.controller.js';
import { CoordinatorService } from './coordinator.service.js';

/** Advances runs from run.requested, node.completed and run.control, in Kafka transactions. */
@Module({ imports: [ExpressionsModule], controllers: [CoordinatorController], providers: [CoordinatorService] })
export class CoordinatorModule {}
