import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { Registry } from 'prom-client';
import type { AppConfig } from '#libs/config';
import { instrumentRedis } from '#libs/observability';
import { CONFIG, METRICS_REGISTRY, ProblemError } from '#libs/platform';
import { createRedis, type RedisClient } from '#libs/redis';

/** Operators' requests (a purge's SCANs) may take longer than a node's lookup; still bounded. */
const COMMAND_TIMEOUT_MS = 5_000;

/** The API's client of the node result cache's Redis (CACHE_REDIS_URL, else REDIS_URL), connected on first use. */
@Injectable()
export class CacheRedis implements OnApplicationShutdown {
  private readonly redis: RedisClient;

  constructor(@Inject(CONFIG) config: AppConfig, @Inject(METRICS_REGISTRY) registry: Registry) {
    this.redis = createRedis(config.CACHE_REDIS_URL ?? config.REDIS_URL, 'node-cache-admin', {
      commandTimeout: COMMAND_TIMEOUT_MS,
      connectTimeout: COMMAND_TIMEOUT_MS,
    });
    instrumentRedis(this.redis, registry);
  }

  /** The connected client; a cache that cannot be reached is a 503. */
  async client(): Promise<RedisClient> {
    try {
      if (this.redis.status === 'wait' || this.redis.status === 'end') await this.redis.connect();
    } catch (error) {
      throw unavailable(error);
    }
    return this.redis;
  }

  /** Runs `use` on the connected client; a command that fails (Redis down, past its timeout) is a 503. */
  async use<T>(use: (redis: RedisClient) => Promise<T>): Promise<T> {
    const redis = await this.client();
    try {
      return await use(redis);
    } catch (error) {
      throw unavailable(error);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

const unavailable = (cause: unknown): ProblemError =>
  new ProblemError('dependency_unavailable', 'the node result cache (Redis) is unavailable', undefined, { cause });
