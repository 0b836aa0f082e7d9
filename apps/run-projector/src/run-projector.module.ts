import { Module } from '@nestjs/common';
import { RunProjectorController } from './run-projector.controller.js';
import { RunProjectorService } from './run-projector.service.js';
import { TimerPoller } from './timer-poller.js';
import { RetentionService } from './retention.service.js';

/** Projects runs into Postgres from the coordinator's changelog, and fires the durable timers projected there. */
@Module({ controllers: [RunProjectorController], providers: [RunProjectorService, TimerPoller, RetentionService] })
export class RunProjectorModule {}
