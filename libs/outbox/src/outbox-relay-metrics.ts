import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Pool } from '#libs/db';

export interface BacklogProbeOptions {
  /** Counting stops here, so a huge backlog costs a bounded scan; the gauge then reads "at least this many". */
  readonly countCap: number;
  /** Both backlog gauges share one query per scrape (and per this window). */
  readonly cacheMs: number;
}

const DEFAULT_PROBE: BacklogProbeOptions = { countCap: 100_000, cacheMs: 1_000 };

interface Backlog {
  readonly rows: number;
  readonly oldestAgeSeconds: number;
  readonly deadRows: number;
}

/**
 * The relay's Prometheus metrics. Rows/s is `rate(outbox_published_total[1m])`. The backlog gauges describe the whole
 * outbox (every relay of a deployment reports the same value; take max()), read at scrape time through the shared pool
 * so the relay's own session never waits for a scrape. One instance per registry: several relays in one process share
 * it, which is why the lane gauge moves by increments.
 */
export class OutboxRelayMetrics {
  readonly published: Counter;
  readonly publishFailures: Counter;
  readonly batchSize: Histogram;
  readonly publishDuration: Histogram;
  readonly ownedLanes: Gauge;
  readonly deadLettered: Counter<'topic'>;
  private cached: { at: number; backlog: Promise<Backlog | undefined> } | undefined;

  constructor(
    registry: Registry,
    private readonly pool: Pool | undefined,
    private readonly probe: BacklogProbeOptions = DEFAULT_PROBE,
  ) {
    const registers = [registry];
    this.published = new Counter({
      name: 'outbox_published_total',
      help: 'Outbox rows published to Kafka and deleted from the outbox',
      registers,
    });
    this.publishFailures = new Counter({
      name: 'outbox_publish_failures_total',
      help: 'Outbox batches whose publish failed and was rolled back to be retried',
      registers,
    });
    this.batchSize = new Histogram({
      name: 'outbox_publish_batch_size',
      help: 'Rows per published outbox batch',
      buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500],
      registers,
    });
    this.publishDuration = new Histogram({
      name: 'outbox_publish_duration_seconds',
      help: 'Time for Kafka to acknowledge one outbox batch',
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.ownedLanes = new Gauge({
      name: 'outbox_relay_owned_lanes',
      help: 'Outbox lanes (of 64) this process currently publishes from',
      registers,
    });
    this.deadLettered = new Counter({
      name: 'outbox_dead_lettered_total',
      help: 'Outbox rows the broker refused for good (too large, invalid), moved to outbox_dead_letters by a relay',
      labelNames: ['topic'],
      registers,
    });
    const deadRows: Gauge = new Gauge({
      name: 'outbox_dead_letter_rows',
      help: `Rows in outbox_dead_letters, waiting for an operator to redrive or discard them (counted up to ${this.probe.countCap})`,
      registers,
      collect: async () => {
        const backlog = await this.readBacklog();
        if (backlog) deadRows.set(backlog.deadRows);
      },
    });
    const backlogRows: Gauge = new Gauge({
      name: 'outbox_backlog_rows',
      help: `Committed outbox rows not yet published (counted up to ${this.probe.countCap})`,
      registers,
      collect: async () => {
        const backlog = await this.readBacklog();
        if (backlog) backlogRows.set(backlog.rows);
      },
    });
    const oldestAge: Gauge = new Gauge({
      name: 'outbox_oldest_row_age_seconds',
      help: 'Age of the oldest unpublished outbox row (0 when the outbox is empty)',
      registers,
      collect: async () => {
        const backlog = await this.readBacklog();
        if (backlog) oldestAge.set(backlog.oldestAgeSeconds);
      },
    });
  }

  /**
   * One cheap query: capped counts of the outbox and of its dead letters, and the oldest row found through the primary
   * key (ids grow with time).
   */
  private readBacklog(): Promise<Backlog | undefined> {
    if (!this.pool) return Promise.resolve(undefined);
    const now = Date.now();
    if (this.cached && now - this.cached.at < this.probe.cacheMs) return this.cached.backlog;
    const backlog = this.pool
      .query<{ rows: number; age: number; dead: number }>(
        `SELECT (SELECT count(*) FROM (SELECT 1 FROM outbox LIMIT $1) capped)::int AS rows,
                (SELECT count(*) FROM (SELECT 1 FROM outbox_dead_letters LIMIT $1) capped)::int AS dead,
                COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - (SELECT created_at FROM outbox ORDER BY id LIMIT 1)), 0)::float8 AS age`,
        [this.probe.countCap],
      )
      .then(
        ({ rows }) => ({
          rows: rows[0]?.rows ?? 0,
          oldestAgeSeconds: Math.max(0, rows[0]?.age ?? 0),
          deadRows: rows[0]?.dead ?? 0,
        }),
        // A scrape must not fail because Postgres is away; the gauges keep their last value and /health says why.
        () => undefined,
      );
    this.cached = { at: now, backlog };
    return backlog;
  }
}
