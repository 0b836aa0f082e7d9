import { Controller } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import type { CommitAfter, EventBatch } from '#libs/messaging';
import { WorkerService } from './worker.service.js';

/** One handler per node type that has a worker; each type is its own consumer group (see worker.role.ts). */
@Controller()
export class WorkerController {
  constructor(private readonly worker: WorkerService) {}

  @EventPattern('node.dispatch.function')
  function(batch: EventBatch<'node.dispatch.function'>): Promise<CommitAfter> {
    return this.worker.execute(batch);
  }

  @EventPattern('node.dispatch.http_request')
  httpRequest(batch: EventBatch<'node.dispatch.http_request'>): Promise<CommitAfter> {
    return this.worker.execute(batch);
  }

  @EventPattern('node.dispatch.agent')
  agent(batch: EventBatch<'node.dispatch.agent'>): Promise<CommitAfter> {
    return this.worker.execute(batch);
  }
}
