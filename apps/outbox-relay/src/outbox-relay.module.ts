import { Module } from '@nestjs/common';
import { OUTBOX_RELAY_OPTIONS, OutboxRelayService } from './outbox-relay.service.js';

/** Moves committed outbox rows to Kafka; the loop itself lives in libs/outbox. */
@Module({
  providers: [{ provide: OUTBOX_RELAY_OPTIONS, useValue: {} }, OutboxRelayService],
})
export class OutboxRelayModule {}
