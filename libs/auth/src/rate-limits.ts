import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { RedisClient } from '#libs/redis';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { AppConfig } from '#libs/config';
import { CONFIG, LOGGER, METRICS_REGISTRY, ProblemError, REDIS } from '#libs/platform';

/** What a limit counts: requests per API key (its id), or per source address. */
export type RateLimitScope = 'key' | 'address';

/** At most one warning per this long while the store is failing: an outage must not flood the log. */
const STORE_WARNING_INTERVAL_MS = 30_000;

/**
 * Fixed-window request limits kept in Redis, so every API process counts against the same budget. Redis being down
 * must not take the API down with it: a request whose count cannot be taken is let through (fail open), counted in
 * `rate_limit_store_errors_total` and logged. A key over its limit is also blocked in this process's memory for the
 * rest of the window, so a flood costs Redis nothing more.
 */
@Injectable()
export class RateLimits implements OnModuleInit {
  private readonly limiters: Partial<Record<RateLimitScope, RateLimiterRedis>> = {};
  private readonly refused: Counter<'scope'>;
  private readonly storeErrors: Counter<'scope'>;
  private lastWarningAt = 0;

  constructor(
    @Inject(REDIS) private readonly redis: RedisClient,
    @Inject(CONFIG) config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS_REGISTRY) registry: Registry,
  ) {
    const limits: Record<RateLimitScope, number> = {
      key: config.RATE_LIMIT_PER_KEY,
      address: config.RATE_LIMIT_PER_ADDRESS,
    };
    for (const scope of Object.keys(limits) as RateLimitScope[]) {
      const points = limits[scope];
      if (points === 0) continue;
      this.limiters[scope] = new RateLimiterRedis({
        storeClient: redis,
        keyPrefix: `${config.REDIS_KEY_PREFIX}rate:${scope}`,
        points,
        duration: config.RATE_LIMIT_WINDOW_SECONDS,
        inMemoryBlockOnConsumed: points + 1,
        // Down or reconnecting: answer at once instead of waiting on a command that cannot be sent.
        rejectIfRedisNotReady: true,
      });
    }
    this.refused = new Counter({
      name: 'rate_limit_refused_total',
      help: 'Requests refused with 429 because a rate limit was spent, by scope (key, address)',
      labelNames: ['scope'],
      registers: [registry],
    });
    this.storeErrors = new Counter({
      name: 'rate_limit_store_errors_total',
      help: 'Requests let through unchecked because the rate-limit store (Redis) did not answer, by scope',
      labelNames: ['scope'],
      registers: [registry],
    });
  }

  /** The platform's client connects lazily; limits need it from the first request on. */
  onModuleInit(): void {
    if (Object.keys(this.limiters).length && this.redis.status === 'wait') {
      this.redis.connect().catch((error: unknown) => {
        this.logger.warn(
          { err: error },
          'rate-limit store unavailable at start-up: requests pass unchecked until it is back',
        );
      });
    }
  }

  /** Counts one request of `id`; throws a 429 problem (with Retry-After) when its window's budget is spent. */
  async take(scope: RateLimitScope, id: string): Promise<void> {
    const limiter = this.limiters[scope];
    if (!limiter) return;
    try {
      await limiter.consume(id);
    } catch (outcome) {
      if (!(outcome instanceof RateLimiterRes)) {
        this.storeFailed(scope, outcome);
        return;
      }
      this.refused.inc({ scope });
      throw new ProblemError(
        'rate_limited',
        `the rate limit of this ${scope === 'key' ? 'API key' : 'source address'} is spent (${limiter.points} requests per ${limiter.duration} s)`,
        undefined,
        { retryAfterSeconds: outcome.msBeforeNext / 1000 },
      );
    }
  }

  private storeFailed(scope: RateLimitScope, error: unknown): void {
    this.storeErrors.inc({ scope });
    const now = Date.now();
    if (now - this.lastWarningAt < STORE_WARNING_INTERVAL_MS) return;
    this.lastWarningAt = now;
    this.logger.warn({ err: error }, 'rate-limit store unavailable: requests pass unchecked until it is back');
  }
}
