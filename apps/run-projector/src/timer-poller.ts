import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { AppConfig } from '#libs/config';
import { inTransaction, type Pool } from '#libs/db';
import { runControlEvent, type EventCodec, type TimerKind } from '#libs/events';
import { insertOutboxRows } from '#libs/outbox';
import { CONFIG, EVENT_CODEC, LOGGER, METRICS_REGISTRY, PG_POOL } from '#libs/platform';
import { PollLoop } from './poll-loop.js';

const BATCH = 1_000;
/** Run timeouts need no precision to the millisecond; sweeping for them once a second is cheap. */
const SWEEP_INTERVAL_MS = 1_000;
/** One sweeper at a time across projectors (an arbitrary constant for pg_try_advisory_xact_lock). */
const SWEEP_LOCK = 727_001;

/**
 * Fires due timers (retry backoffs, node and run timeouts, delays). A due timer is deleted and turned into a
 * run.control event in one transaction, so it fires once per commit and survives any restart; the event is keyed by
 * run id and so reaches the coordinator that owns the run, which alone decides whether it still matters. Every
 * run projector polls the timers it projected; SKIP LOCKED lets them share the work without waiting on each other. Run timeouts are swept
 * from the unfinished runs instead (index runs_unfinished), so a run that ends in time never writes a timer.
 */
@Injectable()
export class TimerPoller implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly loop = new PollLoop();
  private nextSweepAt = 0;
  /** Runs told to time out lately: the sweep repeats until their coordinator ends them, and need not tell twice. */
  private readonly told = new Map<string, number>();
  private readonly fired: Counter<'kind'>;
  private readonly logger: Logger;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(EVENT_CODEC) private readonly codec: EventCodec,
    @Inject(CONFIG) private readonly config: AppConfig,
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.fired = new Counter({
      name: 'run_timers_fired_total',
      help: 'Durable run timers fired, by kind',
      labelNames: ['kind'],
      registers: [registry],
    });
    this.logger = logger.child({ component: 'timer-poller' });
  }

  onApplicationBootstrap(): void {
    this.loop.start(() => this.turn());
  }

  async onApplicationShutdown(): Promise<void> {
    await this.loop.stop();
  }

  /** Fires what is due; sleeps only when a turn found less than a full batch. */
  private async turn(): Promise<number> {
    let fired = 0;
    try {
      fired = await this.fireDue();
      if (Date.now() >= this.nextSweepAt) {
        this.nextSweepAt = Date.now() + SWEEP_INTERVAL_MS;
        await this.sweepRunTimeouts();
      }
    } catch (error) {
      this.logger.warn({ err: error }, 'firing timers failed; retrying');
    }
    return fired < BATCH ? this.config.TIMER_POLL_INTERVAL_MS : 0;
  }

  async fireDue(): Promise<number> {
    return inTransaction(this.pool, async (client) => {
      const { rows } = await client.query<{
        run_id: string;
        workspace_id: string;
        kind: TimerKind;
        node_id: string | null;
        attempt: number | null;
      }>(
        `DELETE FROM run_timers t USING (
           SELECT run_id, timer_key FROM run_timers WHERE fire_at <= now() ORDER BY fire_at LIMIT ${BATCH}
           FOR UPDATE SKIP LOCKED) due
         WHERE t.run_id = due.run_id AND t.timer_key = due.timer_key
         RETURNING t.run_id, t.workspace_id, t.kind, t.node_id, t.attempt`,
      );
      if (!rows.length) return 0;
      const events = await Promise.all(
        rows.map((row) =>
          this.codec.outboxRow(
            'run.control',
            row.run_id,
            runControlEvent({
              workspaceId: row.workspace_id,
              runId: row.run_id,
              kind: 'timer',
              timerKind: row.kind,
              nodeId: row.node_id,
              attempt: row.attempt,
            }),
          ),
        ),
      );
      await insertOutboxRows(client, events);
      for (const row of rows) this.fired.inc({ kind: row.kind });
      return rows.length;
    });
  }

  async sweepRunTimeouts(): Promise<number> {
    const now = Date.now();
    for (const [id, at] of this.told) if (now - at > 30_000) this.told.delete(id);
    return inTransaction(this.pool, async (client) => {
      const { rows: lock } = await client.query<{ held: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS held', [
        SWEEP_LOCK,
      ]);
      if (!lock[0]?.held) return 0;
      const { rows } = await client.query<{ id: string; workspace_id: string }>(
        `SELECT id, workspace_id FROM runs
          WHERE finished_at IS NULL AND created_at < now() - make_interval(secs => $1 / 1000.0)
          ORDER BY created_at LIMIT ${BATCH}`,
        [this.config.RUN_DEFAULT_TIMEOUT_MS],
      );
      const due = rows.filter((r) => !this.told.has(r.id));
      if (!due.length) return 0;
      const events = await Promise.all(
        due.map((row) =>
          this.codec.outboxRow(
            'run.control',
            row.id,
            runControlEvent({ workspaceId: row.workspace_id, runId: row.id, kind: 'timer', timerKind: 'run_timeout' }),
          ),
        ),
      );
      await insertOutboxRows(client, events);
      for (const row of due) this.told.set(row.id, now);
      this.fired.inc({ kind: 'run_timeout' }, due.length);
      return due.length;
    });
  }
}
