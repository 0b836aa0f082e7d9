import {
  Global,
  Inject,
  Injectable,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { blobBackendFromConfig, type BlobBackend } from '#libs/cas';
import type { AppConfig } from '#libs/config';
import { createPool, type Pool } from '#libs/db';
import { createSchemaRegistry, EventCodec, readSchemaFiles, TopicNames } from '#libs/events';
import { APP_FILTER, HttpAdapterHost } from '@nestjs/core';
import { createKafka, openAdmin } from '#libs/kafka';
import {
  createMetricsRegistry,
  instrumentHttp,
  instrumentRedis,
  registerPoolMetrics,
  registerRedisMemoryMetrics,
  registerRunAgeMetrics,
} from '#libs/observability';
import { createRedis, type RedisClient } from '#libs/redis';
import { DependencyChecks } from './dependency-checks.js';
import { Readiness } from './readiness.js';
import { HealthController } from './health.controller.js';
import { MetricsController } from './metrics.controller.js';
import { ProblemFilter } from './problem.filter.js';
import { clusterMetricsSource, httpProcessIndex } from './http-process-worker.js';
import {
  BLOB_BACKEND,
  CONFIG,
  EVENT_CODEC,
  KAFKA,
  KAFKA_ADMIN,
  LOGGER,
  METRICS_REGISTRY,
  METRICS_SOURCE,
  PG_POOL,
  REDIS,
  ROLES,
} from './tokens.js';

class ConnectionsCloser implements OnApplicationShutdown {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(REDIS) private readonly redis: RedisClient,
    private readonly checks: DependencyChecks,
    @Inject(BLOB_BACKEND) private readonly blobs: BlobBackend,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([
      this.blobs.close(),
      this.pool.end(),
      this.checks.close(),
      this.redis.quit().catch(() => this.redis.disconnect()),
    ]);
  }
}

/** `http_request_duration_seconds` on every route of the app; runs at init, before Fastify is ready. */
@Injectable()
class HttpMetricsHook implements OnModuleInit {
  constructor(
    private readonly host: HttpAdapterHost,
    @Inject(METRICS_REGISTRY) private readonly registry: Registry,
  ) {}

  onModuleInit(): void {
    const fastify = this.host.httpAdapter?.getInstance<import('fastify').FastifyInstance>();
    if (fastify) instrumentHttp(fastify, this.registry);
  }
}

/**
 * The connections and endpoints every role shares: one pool, one Redis client, one Kafka client, one metrics
 * registry, `/health` and `/metrics`. The all-in-one root builds it once for all its roles.
 */
@Global()
@Module({})
export class PlatformModule {
  static forRoot(options: { config: AppConfig; roles: readonly string[]; logger: Logger }): DynamicModule {
    const { config, roles, logger } = options;
    const name = roles.length === 1 ? (roles[0] as string) : 'all-in-one';
    return {
      module: PlatformModule,
      controllers: [HealthController, MetricsController],
      providers: [
        { provide: CONFIG, useValue: config },
        Readiness,
        { provide: ROLES, useValue: roles },
        { provide: LOGGER, useValue: logger },
        {
          provide: METRICS_REGISTRY,
          useFactory: (): Registry => {
            const registry = createMetricsRegistry({ service: name });
            const up = new Gauge({
              name: 'orchestrator_role_up',
              help: 'Roles this process runs',
              labelNames: ['role'],
              registers: [registry],
            });
            roles.forEach((role) => up.set({ role }, 1));
            return registry;
          },
        },
        {
          provide: METRICS_SOURCE,
          inject: [METRICS_REGISTRY],
          useFactory: (registry: Registry): (() => Promise<string>) => {
            const index = httpProcessIndex();
            return index === undefined ? () => registry.metrics() : clusterMetricsSource(registry, index);
          },
        },
        {
          provide: PG_POOL,
          inject: [METRICS_REGISTRY],
          useFactory: (registry: Registry) => {
            const pool = createPool(config.DATABASE_URL, {
              name,
              max: config.DATABASE_POOL_MAX,
              statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
            });
            registerPoolMetrics(registry, pool);
            // The coordinator owns runs: its processes report the oldest unfinished one (for WorkflowStalled).
            if (roles.includes('coordinator')) registerRunAgeMetrics(registry, pool, config.RUN_DEFAULT_TIMEOUT_MS);
            return pool;
          },
        },
        {
          provide: BLOB_BACKEND,
          inject: [PG_POOL],
          useFactory: (pool: Pool): BlobBackend => blobBackendFromConfig(config, pool),
        },
        {
          provide: REDIS,
          inject: [METRICS_REGISTRY],
          useFactory: (registry: Registry) => {
            const redis = createRedis(config.REDIS_URL, name);
            instrumentRedis(redis, registry);
            registerRedisMemoryMetrics(redis, registry);
            return redis;
          },
        },
        {
          provide: KAFKA,
          useFactory: () =>
            createKafka({
              brokers: config.KAFKA_BROKERS,
              clientId: `${config.KAFKA_CLIENT_ID}-${name}`,
              logger: logger.child({ component: 'kafkajs' }),
            }),
        },
        { provide: KAFKA_ADMIN, inject: [KAFKA], useFactory: (kafka: Kafka) => openAdmin(kafka, `${name}-health`) },
        {
          provide: DependencyChecks,
          inject: [PG_POOL, REDIS, KAFKA_ADMIN],
          useFactory: (pool: Pool, redis: RedisClient, admin: Admin) =>
            new DependencyChecks(
              pool,
              redis,
              admin,
              config.SCHEMA_REGISTRY_URL,
              config.HEALTH_TIMEOUT_MS,
              logger.child({ component: 'health' }),
            ),
        },
        {
          // Registering is idempotent and makes a fresh deployment (or a test's private topics) usable without a
          // separate step; an incompatible local schema fails the start, which is the point of BACKWARD checks.
          provide: EVENT_CODEC,
          useFactory: async () => {
            const codec = new EventCodec(
              createSchemaRegistry(config.SCHEMA_REGISTRY_URL),
              new TopicNames(config.KAFKA_TOPIC_PREFIX),
              await readSchemaFiles(),
            );
            await codec.registerAll();
            return codec;
          },
        },
        { provide: APP_FILTER, useClass: ProblemFilter },
        ConnectionsCloser,
        HttpMetricsHook,
      ],
      exports: [Readiness, CONFIG, ROLES, LOGGER, METRICS_REGISTRY, PG_POOL, BLOB_BACKEND, REDIS, KAFKA, EVENT_CODEC],
    };
  }
}
