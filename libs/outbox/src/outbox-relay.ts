import pTimeout from 'p-timeout';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { Backoff } from './backoff.js';
import { fairShare, planLaneChange } from './lanes.js';
import { OutboxPublisher, type PublishOutcome } from './outbox-publisher.js';
import type { OutboxRelayMetrics } from './outbox-relay-metrics.js';
import { takeWithinBytes } from './relay-batch.js';
import { RelaySession } from './relay-session.js';
import { sleep, WakeSignal } from './wake-signal.js';

export interface OutboxRelayOptions {
  /** Rows claimed per transaction (and published in one `sendBatch`). */
  readonly batchSize: number;
  /** Payload bytes per batch; stays under Kafka's default 1 MB per record batch so no batch is refused for size. */
  readonly maxBatchBytes: number;
  /** The fallback when no NOTIFY comes (a missed notification, a writer outside the trigger): claim at least this often. */
  readonly pollIntervalMs: number;
  /** How often the relay heartbeats and rebalances its lanes. */
  readonly heartbeatIntervalMs: number;
  /** A relay whose heartbeat is older than this no longer counts when lanes are shared out. */
  readonly relayTimeoutMs: number;
  /** Heartbeat rows older than this are deleted. */
  readonly forgetRelayAfterMs: number;
  /** Backoff after a failed publish or a lost connection: first delay and cap. */
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
  /** A Postgres query slower than this counts as a dead connection. */
  readonly queryTimeoutMs: number;
  /** kafkajs retries inside one send before the relay sees the failure. */
  readonly sendRetries: number;
  /** How long `stop()` lets the current batch finish before cutting the connection (which rolls it back). */
  readonly stopTimeoutMs: number;
}

export const DEFAULT_RELAY_OPTIONS: OutboxRelayOptions = {
  batchSize: 500,
  maxBatchBytes: 900_000,
  pollIntervalMs: 1_000,
  heartbeatIntervalMs: 1_000,
  relayTimeoutMs: 5_000,
  forgetRelayAfterMs: 60_000,
  retryInitialMs: 100,
  retryMaxMs: 5_000,
  queryTimeoutMs: 15_000,
  sendRetries: 5,
  stopTimeoutMs: 5_000,
};

export interface OutboxRelayDependencies {
  readonly databaseUrl: string;
  readonly kafka: Kafka;
  readonly logger: Logger;
  readonly metrics?: OutboxRelayMetrics;
  /** Unique among relays of one database; also the Postgres application_name, so at most 63 ASCII characters. */
  readonly relayId?: string;
}

/** Marks a failure of Kafka (the claim was rolled back; the session is fine) as opposed to a failure of Postgres. */
class PublishFailed extends Error {
  override readonly name = 'PublishFailed';
}

export function defaultRelayId(): string {
  return `${hostname().slice(0, 32)}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/**
 * Moves committed outbox rows to Kafka, then deletes them. One loop, one Postgres session, one producer:
 *
 * - Lanes: the relay heartbeats, counts the relays alive, and locks or unlocks lanes toward its fair share, always
 *   between batches, so a lane changes hands only when none of its rows is claimed or in flight.
 * - Batches: claim the oldest rows of its lanes (FOR UPDATE SKIP LOCKED), publish them in one idempotent `sendBatch`,
 *   delete and commit. A failed publish rolls back and is retried after a backoff; a lost connection is reopened
 *   (its lanes are gone with it and are locked again).
 * - Waking: straight on while batches come back full; otherwise on NOTIFY outbox_new, or at the poll interval.
 *
 * Delivery is at least once: a relay that dies after Kafka acknowledged a batch but before its delete committed leaves
 * those rows to be published again. Per key, first occurrences stay in order, because whoever owns the lane next
 * republishes everything not deleted, oldest first.
 */
export class OutboxRelay {
  readonly relayId: string;
  private readonly options: OutboxRelayOptions;
  private readonly logger: Logger;
  private readonly publisher: OutboxPublisher;
  private readonly wake = new WakeSignal();
  private readonly abort = new AbortController();
  private readonly retry: Backoff;
  private readonly owned = new Set<number>();
  private session: RelaySession | undefined;
  private loop: Promise<void> | undefined;
  private nextHeartbeatAt = 0;
  private nextPollAt = 0;
  private claimNow = true;
  private publishedRows = 0;

  constructor(
    private readonly deps: OutboxRelayDependencies,
    options: Partial<OutboxRelayOptions> = {},
  ) {
    this.options = { ...DEFAULT_RELAY_OPTIONS, ...options };
    this.relayId = deps.relayId ?? defaultRelayId();
    // Postgres cuts application_name at 63 bytes; a longer id would never match, and the relay would not be counted.
    if (!/^[\x20-\x7e]{1,63}$/.test(this.relayId)) {
      throw new Error(`relay id must be 1-63 printable ASCII characters: ${JSON.stringify(this.relayId)}`);
    }
    this.logger = deps.logger.child({ relayId: this.relayId });
    this.publisher = new OutboxPublisher(
      deps.kafka,
      `outbox-relay ${this.relayId}`,
      this.logger,
      this.options.sendRetries,
    );
    this.retry = new Backoff(this.options.retryInitialMs, this.options.retryMaxMs);
  }

  /** The lanes this relay publishes from right now. */
  get lanes(): ReadonlySet<number> {
    return this.owned;
  }

  /** Rows this relay has published and deleted since it started. */
  get published(): number {
    return this.publishedRows;
  }

  /** Starts the loop in the background; it runs (reconnecting as needed) until `stop()`. */
  start(): void {
    if (this.loop) return;
    this.logger.info({ options: this.options }, 'outbox relay starting');
    this.loop = this.run().catch((error: unknown) => {
      this.logger.error({ err: error }, 'outbox relay loop crashed');
    });
  }

  /**
   * Lets the current batch finish (or, past `stopTimeoutMs`, cuts the connection so Postgres rolls it back), then
   * releases the lanes, removes the heartbeat row and closes the session and the producer.
   */
  async stop(): Promise<void> {
    this.abort.abort();
    if (this.loop) {
      const finished = await settlesWithin(this.loop, this.options.stopTimeoutMs);
      if (!finished) {
        this.logger.warn({ stopTimeoutMs: this.options.stopTimeoutMs }, 'batch still running at stop: rolling it back');
        await this.session?.end();
        await this.publisher.close();
        await settlesWithin(this.loop, 1_000);
      }
    }
    await this.dropSession(true);
    await this.publisher.close();
    this.logger.info({ published: this.publishedRows }, 'outbox relay stopped');
  }

  private async run(): Promise<void> {
    const { signal } = this.abort;
    while (!signal.aborted) {
      try {
        const session = this.session ?? (await this.openSession());
        if (Date.now() >= this.nextHeartbeatAt) await this.maintainLanes(session);
        const notified = this.wake.consume();
        if (this.owned.size && (this.claimNow || notified || Date.now() >= this.nextPollAt)) {
          this.nextPollAt = Date.now() + this.options.pollIntervalMs;
          this.claimNow = await this.relayBatch(session);
          this.retry.reset();
          if (this.claimNow) continue;
        }
        // Without lanes there is nothing to claim until the next rebalance, NOTIFY or not.
        const wakeAt = this.owned.size ? Math.min(this.nextPollAt, this.nextHeartbeatAt) : this.nextHeartbeatAt;
        await this.wake.wait(wakeAt - Date.now(), signal);
      } catch (error) {
        // Stopping: whatever failed (a claim cut short by stop's deadline), stop() closes what is left.
        if (signal.aborted) break;
        const delayMs = this.retry.next();
        if (error instanceof PublishFailed && !this.session?.lost) {
          this.logger.warn({ err: error.cause, retryInMs: delayMs }, 'publish failed; batch rolled back');
          // The rows are still there: retry right after the backoff, not at the next poll.
          this.claimNow = true;
        } else {
          this.logger.warn({ err: error, retryInMs: delayMs }, 'postgres session failed; reconnecting');
          await this.dropSession(false);
        }
        await sleep(delayMs, signal);
      }
    }
  }

  private async openSession(): Promise<RelaySession> {
    this.session = await RelaySession.open({
      databaseUrl: this.deps.databaseUrl,
      relayId: this.relayId,
      onNotify: () => this.wake.notify(),
      queryTimeoutMs: this.options.queryTimeoutMs,
    });
    this.nextHeartbeatAt = 0;
    this.claimNow = true;
    return this.session;
  }

  /** Forgets the session and its lanes; `graceful` hands the lanes over at once instead of when the connection ends. */
  private async dropSession(graceful: boolean): Promise<void> {
    const session = this.session;
    this.session = undefined;
    this.deps.metrics?.ownedLanes.dec(this.owned.size);
    this.owned.clear();
    if (graceful) await session?.close();
    else await session?.end();
  }

  /** Heartbeat, then lock or unlock lanes toward this relay's share. Runs only between batches. */
  private async maintainLanes(session: RelaySession): Promise<void> {
    this.nextHeartbeatAt = Date.now() + this.options.heartbeatIntervalMs;
    const alive = await session.heartbeat(this.options.relayTimeoutMs, this.options.forgetRelayAfterMs);
    const target = fairShare(alive);
    if (this.owned.size === target) return;
    const held = this.owned.size < target ? await session.lanesHeldByAnyone() : new Set<number>();
    const change = planLaneChange(this.owned, held, target);
    await session.unlockLanes(change.release);
    change.release.forEach((lane) => this.owned.delete(lane));
    const acquired = await session.tryLockLanes(change.acquire);
    acquired.forEach((lane) => this.owned.add(lane));
    // Newly owned lanes may hold a backlog (a relay left): claim at once rather than at the next poll.
    if (acquired.length) this.claimNow = true;
    const delta = acquired.length - change.release.length;
    this.deps.metrics?.ownedLanes.inc(delta);
    if (delta) {
      this.logger.info(
        { alive, target, owned: this.owned.size, acquired: acquired.length, released: change.release.length },
        'outbox lanes rebalanced',
      );
    }
  }

  /**
   * One claim-publish-delete round; true when the batch was full, so more rows are probably waiting. A row the broker
   * refuses for good goes to the dead-letter table in the same transaction, and the lane goes on: the rows of its key
   * after it are published without it (it cannot be published at all, and holding back its key would stop the lane's
   * other keys behind it too). Consumers see the gap in the key's sequence numbers; operators see the row (metrics,
   * `orchestrator outbox dead list`) and can redrive it.
   */
  private async relayBatch(session: RelaySession): Promise<boolean> {
    const claimed = await session.claim([...this.owned], this.options.batchSize);
    if (!claimed.length) {
      await session.complete([]);
      return false;
    }
    const rows = takeWithinBytes(claimed, this.options.maxBatchBytes);
    const started = performance.now();
    let outcome: PublishOutcome;
    try {
      outcome = await this.publisher.publishOrRefuse(rows);
    } catch (error) {
      this.deps.metrics?.publishFailures.inc();
      await session.abandon();
      throw new PublishFailed('publish failed', { cause: error });
    }
    this.deps.metrics?.publishDuration.observe((performance.now() - started) / 1000);
    const { published, refused } = outcome;
    await session.complete(
      published.map((r) => r.id),
      refused,
    );
    this.publishedRows += published.length;
    this.deps.metrics?.published.inc(published.length);
    this.deps.metrics?.batchSize.observe(published.length);
    for (const { row, error } of refused) {
      this.deps.metrics?.deadLettered.inc({ topic: row.topic });
      this.logger.warn(
        { outboxId: row.id, topic: row.topic, key: row.key, bytes: row.payload.length, error },
        'outbox row refused by the broker: moved to outbox_dead_letters',
      );
    }
    return claimed.length === this.options.batchSize || rows.length < claimed.length;
  }
}

function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return pTimeout(
    promise.then(() => true),
    { milliseconds: ms, fallback: () => false },
  );
}
