import type { Logger } from 'pino';

export interface OutageWaitOptions {
  readonly logger: Logger;
  /** What waits, for the log lines: `decoding run.events`, say. */
  readonly what: string;
  /** Fields the log lines carry (topic, partition, offset). */
  readonly fields?: Readonly<Record<string, unknown>>;
  /**
   * Whether a failure is an outage to wait out rather than the input's fault. By default the errors flagged
   * `retriable`: RegistryUnavailable, and kafkajs' broker and connection trouble.
   */
  readonly isOutage?: (error: unknown) => boolean;
  /** False once waiting is pointless (the consumer stopped, the partition moved on): the outage's error is thrown. */
  readonly keepWaiting: () => boolean;
  /** Called before each pause (a consumer's heartbeat, so a long outage does not cost it its group membership). */
  readonly beforePause?: () => Promise<void>;
  readonly baseBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** How often a continuing outage is logged again (the first failure always is). */
  readonly logEveryMs?: number;
  /** Time and sleep, passed in so tests need not wait. */
  readonly clock?: { now(): number; sleep(ms: number): Promise<void> };
}

const REAL_CLOCK = {
  now: () => Date.now(),
  sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
};

export const isRetriable = (error: unknown): boolean =>
  (error as { retriable?: unknown } | undefined)?.retriable === true;

/**
 * Runs `attempt` until it succeeds, retrying for as long as it fails for an outage (with exponential backoff) and
 * the caller still wants the result. Any other failure is thrown at once: it is the input's, and the caller's policy
 * (dead letters, skipping) applies. An outage is logged when it starts, then at most every `logEveryMs` with how long
 * it has lasted, and once more when it is over: a registry down for ten minutes is a few lines, not one per try.
 */
export async function waitOutOutages<T>(attempt: () => Promise<T>, options: OutageWaitOptions): Promise<T> {
  const isOutage = options.isOutage ?? isRetriable;
  const clock = options.clock ?? REAL_CLOCK;
  const base = options.baseBackoffMs ?? 100;
  const max = options.maxBackoffMs ?? 5_000;
  const logEvery = options.logEveryMs ?? 30_000;
  let since: number | undefined;
  let loggedAt = 0;
  for (let failures = 0; ; failures++) {
    try {
      const result = await attempt();
      if (since !== undefined) {
        options.logger.info(
          { ...options.fields, failures, waitedMs: clock.now() - since },
          `${options.what}: the outage is over, going on`,
        );
      }
      return result;
    } catch (error) {
      if (!isOutage(error) || !options.keepWaiting()) throw error;
      const now = clock.now();
      if (since === undefined) {
        since = loggedAt = now;
        options.logger.warn({ ...options.fields, err: error }, `${options.what}: a dependency is unavailable; waiting`);
      } else if (now - loggedAt >= logEvery) {
        loggedAt = now;
        options.logger.warn(
          { ...options.fields, failures: failures + 1, waitedMs: now - since, reason: (error as Error).message },
          `${options.what}: still waiting for an unavailable dependency`,
        );
      }
      await options.beforePause?.().catch(() => undefined);
      await clock.sleep(Math.min(max, base * 2 ** Math.min(16, failures)));
    }
  }
}
