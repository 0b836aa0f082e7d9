import { Controller } from '@nestjs/common';
import { EventPattern } from '@nestjs/microservices';
import type { EventBatch } from '#libs/messaging';
import { MaterializerService } from './materializer.service.js';

@Controller()
export class MaterializerController {
  constructor(private readonly materializer: MaterializerService) {}

  @EventPattern('patch.created')
  handle(batch: EventBatch<'patch.created'>): Promise<void> {
    return this.materializer.materialize(batch);
  }
}
