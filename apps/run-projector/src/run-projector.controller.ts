import { Controller } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import type { CommitAfter, EventBatch } from '#libs/messaging';
import { RunProjectorService } from './run-projector.service.js';

@Controller()
export class RunProjectorController {
  constructor(private readonly projector: RunProjectorService) {}

  @EventPattern('run.state')
  state(batch: EventBatch<'run.state'>): CommitAfter {
    return this.projector.handle(batch);
  }
}
