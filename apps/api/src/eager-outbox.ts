import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AppConfig } from '#libs/config';
import type { Pool } from '#libs/db';
import type { Kafka } from '#libs/kafka';
import { EagerOutboxPublisher, type ClaimedRow } from '#libs/outbox';
import { CONFIG, KAFKA, LOGGER, METRICS_REGISTRY, PG_POOL } from '#libs/platform';

/** How a group-committed writer hands its outbox rows over for publishing after its commit. */
export interface EagerRows {
  /** The grace after which the relays take a row its writer did not publish. */
  readonly publishAfterMs: number;
  readonly publish: (rows: readonly ClaimedRow[]) => void;
}

/**
 * The API's eager outbox publisher (OUTBOX_EAGER_GRACE_MS > 0): run starts and patches reach Kafka straight after
 * their commit instead of through a relay, which stays the fallback.
 */
@Injectable()
export class EagerOutbox implements OnApplicationShutdown {
  private readonly publisher: EagerOutboxPublisher | undefined;

  constructor(
    @Inject(PG_POOL) pool: Pool,
    @Inject(KAFKA) kafka: Kafka,
    @Inject(LOGGER) logger: Logger,
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Inject(CONFIG) private readonly config: AppConfig,
  ) {
    if (config.OUTBOX_EAGER_GRACE_MS > 0) {
      this.publisher = new EagerOutboxPublisher(
        pool,
        kafka,
        logger.child({ component: 'outbox-eager' }),
        registry,
        config.OUTBOX_RELAY_MAX_BATCH_BYTES,
      );
    }
  }

  /** For a batch about to be written: its rows' grace and where they go after the commit; none when off. */
  rows(afterCommit: (work: () => void) => void): EagerRows | undefined {
    const publisher = this.publisher;
    if (!publisher) return undefined;
    return {
      publishAfterMs: this.config.OUTBOX_EAGER_GRACE_MS,
      publish: (rows) => afterCommit(() => publisher.publish(rows)),
    };
  }

  get enabled(): boolean {
    return this.publisher !== undefined;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.publisher?.close();
  }
}
