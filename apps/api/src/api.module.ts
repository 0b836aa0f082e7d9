import { Inject, Module, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { AppConfig } from '#libs/config';
import { ApiKeysRepository, AuthModule, bootstrapKeyRefusal } from '#libs/auth';
import { lagExporterProvider } from '#libs/kafka';
import { AdvisoryLeader, createPool, ReadRouting, type Pool } from '#libs/db';
import { registerReplicaLagMetrics } from '#libs/observability';
import { CONFIG, KAFKA, LOGGER, METRICS_REGISTRY, PG_POOL } from '#libs/platform';
import { ApiKeysController } from './auth/api-keys.controller.js';
import { CacheHitsController } from './cache/cache-hits.controller.js';
import { CacheRedis } from './cache/cache-redis.js';
import { SemanticCacheAdmin } from './cache/semantic-cache-admin.js';
import { CacheStatsController } from './cache/cache-stats.controller.js';
import { EagerOutbox } from './eager-outbox.js';
import { FanoutProxyModule } from './fanout-proxy/fanout-proxy.module.js';
import { ConsoleController } from './console/console.controller.js';
import { OpenApiController } from './openapi/openapi.controller.js';
import { OperatorController } from './operator/operator.controller.js';
import { OperatorKafka } from './operator/operator-kafka.js';
import { RunsController } from './runs/runs.controller.js';
import { RunsRepository } from './runs/runs.repository.js';
import { PatchWriter } from './workflows/patch-writer.js';
import { WorkflowsController } from './workflows/workflows.controller.js';
import { WorkflowsRepository } from './workflows/workflows.repository.js';

const LAG_EXPORTER_LEADER = Symbol('LagExporterLeader');

class Bootstrap implements OnApplicationBootstrap {
  constructor(
    private readonly keys: ApiKeysRepository,
    @Inject(CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const refusal = bootstrapKeyRefusal(this.config);
    if (refusal) throw new Error(refusal);
    if (!this.config.BOOTSTRAP_ADMIN_KEY) return;
    if (await this.keys.bootstrap(this.config.BOOTSTRAP_ADMIN_KEY)) {
      this.logger.info('created workspace "default" with the admin key from BOOTSTRAP_ADMIN_KEY');
    }
  }
}

/** The read replica's pool ends with the app (the primary's is the platform's). */
class ReadReplicaCloser implements OnApplicationShutdown {
  constructor(@Inject(ReadRouting) private readonly reads: ReadRouting) {}

  async onApplicationShutdown(): Promise<void> {
    await this.reads.close();
  }
}

/**
 * Where the read endpoints read: DATABASE_READ_URL's replica, with read-your-writes by consistency token, and its lag
 * on /metrics; without it, the primary.
 */
function readRoutingFactory(primary: Pool, config: AppConfig, registry: Registry): ReadRouting {
  if (!config.DATABASE_READ_URL) return new ReadRouting(primary, undefined);
  const replica = createPool(config.DATABASE_READ_URL, {
    name: 'api-read-replica',
    max: config.DATABASE_POOL_MAX,
    statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
  });
  const reads = new ReadRouting(primary, replica);
  registerReplicaLagMetrics(registry, reads);
  return reads;
}

/** The public HTTP API: API keys, workflows and their patches, runs, approvals. */
@Module({
  imports: [AuthModule, FanoutProxyModule],
  controllers: [
    ApiKeysController,
    WorkflowsController,
    RunsController,
    CacheHitsController,
    CacheStatsController,
    OpenApiController,
    ConsoleController,
    OperatorController,
  ],
  providers: [
    EagerOutbox,
    OperatorKafka,
    WorkflowsRepository,
    PatchWriter,
    RunsRepository,
    CacheRedis,
    SemanticCacheAdmin,
    Bootstrap,
    { provide: ReadRouting, inject: [PG_POOL, CONFIG, METRICS_REGISTRY], useFactory: readRoutingFactory },
    ReadReplicaCloser,
    {
      // One exporter per deployment, whatever the number of API processes (each would export the same series).
      provide: LAG_EXPORTER_LEADER,
      inject: [PG_POOL, CONFIG],
      useFactory: (pool: Pool, config: AppConfig) =>
        new AdvisoryLeader(pool, `lag-exporter ${config.KAFKA_TOPIC_PREFIX}`),
    },
    lagExporterProvider({ config: CONFIG, kafka: KAFKA, registry: METRICS_REGISTRY, leader: LAG_EXPORTER_LEADER }),
  ],
})
export class ApiModule {}
