import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import { Gauge, Histogram, type Registry } from 'prom-client';
import { ContentStore, type BlobBackend } from '#libs/cas';
import { inTransaction, type Pool } from '#libs/db';
import type { RunStateRecord } from '#libs/events';
import { BatchCoalescer, CommitAfter, type EventBatch } from '#libs/messaging';
import { BLOB_BACKEND, LOGGER, METRICS_REGISTRY, PG_POOL } from '#libs/platform';
import type { Effect, RunState } from '#libs/runs';
import { projectedVersions, storeProjection, type ProjectedWrite } from './projection.sql.js';

/**
 * The read model of runs: folds the coordinator's changelog (run.state) into Postgres — the runs row, its numbered
 * events (SSE history), its durable timers and its approvals — in batches, off the runs' critical path. Partition
 * batches that arrive together share one transaction. A record is applied only over an older projected version, so
 * a replay after a crash changes nothing; the transport commits the offsets after the transaction.
 *
 * The handler returns before its batch's transaction commits (CommitAfter): the consumer fetches the next records
 * meanwhile, and they go in the next transaction (a failed one is read again; one that keeps failing is
 * dead-lettered by the transport).
 */
@Injectable()
export class RunProjectorService {
  private readonly writes = new BatchCoalescer<EventBatch<'run.state'>>((batches) => this.project(batches));
  private readonly lag: Histogram;
  private readonly lastLag: Gauge;
  private readonly logger: Logger;
  private readonly content: ContentStore;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(BLOB_BACKEND) blobs: BlobBackend,
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.lag = new Histogram({
      name: 'run_projection_lag_seconds',
      help: 'From a run transition (its changelog record) to its projection into Postgres committing',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    });
    this.lastLag = new Gauge({
      name: 'run_projection_last_lag_seconds',
      help: 'Projection lag of the latest batch written',
      registers: [registry],
    });
    this.logger = logger.child({ component: 'run-projector' });
    this.content = new ContentStore(pool, blobs);
  }

  handle(batch: EventBatch<'run.state'>): CommitAfter {
    return new CommitAfter(this.writes.submit(batch));
  }

  private async project(batches: readonly EventBatch<'run.state'>[]): Promise<void> {
    const byRun = new Map<string, RunStateRecord[]>();
    for (const batch of batches) {
      for (const message of batch.messages) {
        const record = message.value;
        const list = byRun.get(record.runId) ?? [];
        list.push(record);
        byRun.set(record.runId, list);
      }
    }
    const oldest = Math.min(...batches.flatMap((b) => b.messages.map((m) => m.value.occurredAt)));
    if (!byRun.size) return;
    // Large states and effects travel by reference (content-addressed storage): read before the transaction, so it
    // holds no connection while others fetch blobs.
    const states = new Map<RunStateRecord, string>();
    const effects = new Map<RunStateRecord, Effect[]>();
    await Promise.all(
      [...byRun.values()].flat().map(async (record) => {
        const [state, effectsJson] = await Promise.all([
          this.content.unspill(record.workspaceId, record.stateJson, record.stateRef),
          this.content.unspill(record.workspaceId, record.effectsJson, record.effectsRef),
        ]);
        states.set(record, state);
        effects.set(record, JSON.parse(effectsJson) as Effect[]);
      }),
    );
    await inTransaction(this.pool, async (client) => {
      const versions = await projectedVersions(client, [...byRun.keys()]);
      const writes: ProjectedWrite[] = [];
      for (const [runId, records] of byRun) {
        const projected = versions.get(runId);
        if (projected === undefined) {
          this.logger.warn({ runId }, 'changelog record for a run the database does not have; skipped');
          continue;
        }
        const sorted = [...records].sort((a, b) => a.seq - b.seq);
        const fresh = sorted.filter((r) => r.seq > projected);
        // A record at or below the projected version is a replay: its events are there already, and inserting them
        // again does nothing. They are kept all the same, each seq once (the run numbers them), so a record skipped
        // for its version can never cost the history events; the run row, timers and approvals follow the newest
        // version only. (Stock kafkajs re-sent whole batches under new sequence numbers when a leader moved: the
        // changelog then held transitions twice; patches/kafkajs+2.2.4.patch, kafka-cluster-faults.)
        const late = sorted
          .filter((r) => r.seq <= projected)
          .flatMap((r) =>
            (effects.get(r) ?? []).filter((e) => e.type === 'event').map((e) => ({ ...e, at: r.occurredAt })),
          );
        const last = fresh.at(-1) ?? sorted.at(-1);
        if (!last || (!fresh.length && !late.length)) continue;
        writes.push({
          run: { id: runId, workspaceId: last.workspaceId, workflowId: last.workflowId },
          state: JSON.parse(states.get(last) as string) as RunState,
          version: last.seq,
          at: last.occurredAt,
          effects: [...late, ...fresh.flatMap((r) => (effects.get(r) ?? []).map((e) => ({ ...e, at: r.occurredAt })))],
          contentRefs: [last.inputRef, last.stateRef, last.effectsRef].filter((ref): ref is string => ref !== null),
        });
      }
      await storeProjection(client, writes);
    });
    const lagSeconds = Math.max(0, Date.now() - oldest) / 1000;
    this.lag.observe(lagSeconds);
    this.lastLag.set(lagSeconds);
  }
}
