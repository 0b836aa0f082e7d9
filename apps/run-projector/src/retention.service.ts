import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { AppConfig } from '#libs/config';
import type { Pool } from '#libs/db';
import type { BlobBackend } from '#libs/cas';
import { openSemanticCacheStore, semanticCacheOn } from '#libs/cache';
import { BLOB_BACKEND, CONFIG, LOGGER, METRICS_REGISTRY, PG_POOL } from '#libs/platform';
import { retentionJobs, runDueJobs, semanticCacheRetentionJob, type MaintenanceJob } from '#libs/retention';
import { PollLoop } from './poll-loop.js';

/** How often a process asks whether a job is due; the job's own interval is kept in Postgres, across processes. */
const CHECK_EVERY_MS = 60_000;

/**
 * Runs the retention jobs (RETENTION_INTERVAL_MS and the settings beside it) on their schedule. Every run projector
 * asks; one of them per turn runs each job (libs/retention claims it in Postgres).
 */
@Injectable()
export class RetentionService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly jobs: MaintenanceJob[];
  private readonly vectorPool: Pool | undefined;
  private readonly deleted: Counter<'job'>;
  private readonly logger: Logger;
  private readonly loop = new PollLoop();

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(CONFIG) private readonly config: AppConfig,
    @Inject(BLOB_BACKEND) blobs: BlobBackend,
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.jobs = retentionJobs({
      intervalMs: config.RETENTION_INTERVAL_MS,
      idempotencyKeyTtlMs: config.IDEMPOTENCY_KEY_TTL_MS,
      casGraceMs: config.CAS_GC_GRACE_MS,
      finishedRunRetentionMs: config.RUN_RETENTION_MS,
      blobs,
    });
    if (config.RETENTION_INTERVAL_MS > 0 && semanticCacheOn(config)) {
      // Claimed in this database like the others; its rows are in the vector database.
      const { store, pool: vectorPool } = openSemanticCacheStore(config, 'semantic-cache-retention');
      this.vectorPool = vectorPool;
      this.jobs.push(semanticCacheRetentionJob(store));
    }
    this.deleted = new Counter({
      name: 'retention_deleted_total',
      help: 'Rows deleted by retention jobs, by job',
      labelNames: ['job'],
      registers: [registry],
    });
    this.logger = logger.child({ component: 'retention' });
  }

  onApplicationBootstrap(): void {
    if (!this.jobs.length) return;
    this.loop.start(() => this.turn());
  }

  async onApplicationShutdown(): Promise<void> {
    await this.loop.stop();
    await this.vectorPool?.end();
  }

  private async turn(): Promise<number> {
    try {
      const outcomes = await runDueJobs(
        this.pool,
        this.jobs,
        this.config.RETENTION_INTERVAL_MS,
        () => this.loop.active,
      );
      for (const outcome of outcomes) {
        this.deleted.inc({ job: outcome.name }, outcome.deleted);
        if (outcome.error) this.logger.warn(outcome, 'retention job failed; it runs again at its next turn');
        else if (outcome.deleted) this.logger.info(outcome, 'retention job deleted rows');
      }
    } catch (error) {
      this.logger.warn({ err: error }, 'retention check failed; retrying');
    }
    return Math.min(CHECK_EVERY_MS, this.config.RETENTION_INTERVAL_MS);
  }
}
