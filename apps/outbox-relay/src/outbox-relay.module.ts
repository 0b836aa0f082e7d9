import { Module } from '@nestjs/common';

/** Moves committed outbox rows to Kafka (issue 3 adds the relay loop). */
@Module({})
export class OutboxRelayModule {}
