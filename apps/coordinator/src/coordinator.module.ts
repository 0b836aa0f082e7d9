import { Module } from '@nestjs/common';
import { CoordinatorController } from './coordinator.controller.js';
import { CoordinatorService } from './coordinator.service.js';
import { TimerPoller } from './timer-poller.js';

/** Advances runs from run.requested, node.completed and run.control, and fires their durable timers. */
@Module({ controllers: [CoordinatorController], providers: [CoordinatorService, TimerPoller] })
export class CoordinatorModule {}
