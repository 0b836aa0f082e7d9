import { Module } from '@nestjs/common';
import type { AppConfig } from '#libs/config';
import type { OutboxRelayOptions } from '#libs/outbox';
import { CONFIG } from '#libs/platform';
import { OUTBOX_RELAY_OPTIONS, OutboxRelayService } from './outbox-relay.service.js';

const relayOptions = (config: AppConfig): Partial<OutboxRelayOptions> => ({
  batchSize: config.OUTBOX_RELAY_BATCH_SIZE,
  maxBatchBytes: config.OUTBOX_RELAY_MAX_BATCH_BYTES,
  pollIntervalMs: config.OUTBOX_RELAY_POLL_INTERVAL_MS,
  heartbeatIntervalMs: config.OUTBOX_RELAY_HEARTBEAT_INTERVAL_MS,
  relayTimeoutMs: config.OUTBOX_RELAY_TIMEOUT_MS,
  retryMaxMs: config.OUTBOX_RELAY_RETRY_MAX_MS,
  stopTimeoutMs: config.OUTBOX_RELAY_STOP_TIMEOUT_MS,
});

/** Moves committed outbox rows to Kafka; the loop itself lives in libs/outbox. */
@Module({
  providers: [{ provide: OUTBOX_RELAY_OPTIONS, inject: [CONFIG], useFactory: relayOptions }, OutboxRelayService],
})
export class OutboxRelayModule {}
