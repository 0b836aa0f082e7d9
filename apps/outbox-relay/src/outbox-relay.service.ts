import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AppConfig } from '#libs/config';
import type { Pool } from '#libs/db';
import { OutboxRelay, OutboxRelayMetrics, type OutboxRelayOptions } from '#libs/outbox';
import { CONFIG, KAFKA, LOGGER, METRICS_REGISTRY, PG_POOL } from '#libs/platform';

/** Relay tuning from the OUTBOX_RELAY_* settings; what is unset keeps `DEFAULT_RELAY_OPTIONS`. */
export const OUTBOX_RELAY_OPTIONS = Symbol('OutboxRelayOptions');

/**
 * The Nest shell around the relay loop: starts it once the application is up (in the background: the loop runs until
 * shutdown) and stops it on shutdown, which hands its lanes to the other relays at once.
 */
@Injectable()
export class OutboxRelayService implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly relay: OutboxRelay;

  constructor(
    @Inject(CONFIG) config: AppConfig,
    @Inject(KAFKA) kafka: Kafka,
    @Inject(LOGGER) logger: Logger,
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Inject(PG_POOL) pool: Pool,
    @Inject(OUTBOX_RELAY_OPTIONS) options: Partial<OutboxRelayOptions>,
  ) {
    this.relay = new OutboxRelay(
      {
        databaseUrl: config.DATABASE_URL,
        kafka,
        logger: logger.child({ component: 'outbox-relay' }),
        metrics: new OutboxRelayMetrics(registry, pool),
      },
      options,
    );
  }

  onApplicationBootstrap(): void {
    this.relay.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.relay.stop();
  }
}
