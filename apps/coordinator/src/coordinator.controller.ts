import { Controller } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import type { CommitAfter, EventBatch } from '#libs/messaging';
import { CoordinatorService } from './coordinator.service.js';

/** The three co-partitioned topics that carry everything that happens to a run. */
@Controller()
export class CoordinatorController {
  constructor(private readonly coordinator: CoordinatorService) {}

  @EventPattern('run.requested')
  requested(batch: EventBatch<'run.requested'>): Promise<CommitAfter> {
    return this.coordinator.handle(batch);
  }

  @EventPattern('node.completed')
  completed(batch: EventBatch<'node.completed'>): Promise<CommitAfter> {
    return this.coordinator.handle(batch);
  }

  @EventPattern('run.control')
  control(batch: EventBatch<'run.control'>): Promise<CommitAfter> {
    return this.coordinator.handle(batch);
  }
}
