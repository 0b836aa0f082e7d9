import { Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { cacheTracker, type CacheTracker } from '#libs/observability';
import { ContentStore } from '#libs/cas';
import type { AppConfig } from '#libs/config';
import { inTransaction, type Pool } from '#libs/db';
import { envelope, type EventCodec } from '#libs/events';
import type { DeadLetter, EventBatch } from '#libs/messaging';
import { insertOutboxRows } from '#libs/outbox';
import { CONFIG, EVENT_CODEC, LOGGER, METRICS_REGISTRY, PG_POOL } from '#libs/platform';
import { endSpan, messageContext, startSpan, traceHeaders, tracingEnabled, type StartedSpan } from '#libs/tracing';
import { context, type Context } from '@opentelemetry/api';
import {
  applyInput,
  ExpressionEvaluator,
  initialState,
  isTerminal,
  startRun,
  type MachineContext,
  type RunState,
} from '#libs/runs';
import { CoordinatorMetrics } from './coordinator-metrics.js';
import { DefinitionCache } from './definition-cache.js';
import { BatchCoalescer } from './batch-coalescer.js';
import { RunCache } from './run-cache.js';
import { toCoordinatorInput, type CoordinatorInput } from './run-inputs.js';
import { runOutboxRows } from './run-outbox.js';
import { failRunsDirectly, loadRuns, storeTransitions, type RunWrite, type StoredRun } from './run-store.sql.js';

/**
 * The Nest shell around the run state machine: for each batch of one partition, reads the runs it touches (from the
 * cache of owned runs, else Postgres), feeds each its events in offset order, and stores the new states, events,
 * timers and outbox rows in one transaction whose version checks make a stale owner fail instead of overwrite.
 * The transport commits the offsets after that, so a crash replays the batch and the machine ignores what it has seen.
 */
@Injectable()
export class CoordinatorService {
  private readonly cache = new RunCache();
  /**
   * With tracing on, the trace context each owned, unfinished run was last seen in: its events that carry none (fired
   * timers: retry backoffs, delays, timeouts) continue the run's trace from there. Lost on restart and rebalance.
   */
  private readonly runTraces = new Map<string, Context>();
  private readonly definitions: DefinitionCache;
  private readonly writes = new BatchCoalescer<EventBatch>((batches) => this.process(batches));
  private readonly evaluator: ExpressionEvaluator;
  private readonly content: ContentStore;
  private readonly metrics: CoordinatorMetrics;
  private readonly cacheMetrics: CacheTracker;
  private readonly logger: Logger;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(EVENT_CODEC) private readonly codec: EventCodec,
    @Inject(CONFIG) private readonly config: AppConfig,
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.definitions = new DefinitionCache(pool);
    this.evaluator = new ExpressionEvaluator({ timeoutMs: config.EXPRESSION_TIMEOUT_MS, maxDepth: 500 });
    this.content = new ContentStore(pool);
    this.metrics = new CoordinatorMetrics(registry);
    this.cacheMetrics = cacheTracker(registry, 'coordinator_runs');
    this.logger = logger.child({ component: 'coordinator' });
  }

  /** The group's partitions moved: runs cached for partitions now owned elsewhere must not be trusted. */
  forgetRuns(): void {
    this.cache.clear();
    this.runTraces.clear();
  }

  handle(batch: EventBatch): Promise<void> {
    return this.writes.submit(batch);
  }

  private async process(batches: readonly EventBatch[]): Promise<void> {
    const stop = this.metrics.batchDuration.startTimer();
    const byRun = new Map<string, CoordinatorInput[]>();
    // Per run, the context of its latest traced event in this write (none when tracing is off).
    const causes = new Map<string, Context>();
    for (const batch of batches) {
      for (const message of batch.messages) {
        const { runId, input } = toCoordinatorInput(batch.topic, message);
        const cause = messageContext(message);
        if (cause) causes.set(runId, cause);
        const inputs = byRun.get(runId) ?? [];
        // A run's request and its other events can arrive in one write from different topics: the start goes first.
        if (input.kind === 'start') inputs.unshift(input);
        else inputs.push(input);
        byRun.set(runId, inputs);
      }
    }
    if (tracingEnabled()) {
      for (const runId of byRun.keys()) {
        const cause = causes.get(runId);
        if (cause) this.runTraces.set(runId, cause);
        else if (this.runTraces.has(runId)) causes.set(runId, this.runTraces.get(runId) as Context);
      }
    }
    const runs = await this.load([...byRun.keys()]);
    const writes: RunWrite[] = [];
    const now = Date.now();
    // A span per run that has a trace: its effects (tasks, run events) carry this span's context onwards.
    const spans = new Map<string, StartedSpan>();
    try {
      for (const [runId, inputs] of byRun) {
        const run = runs.get(runId);
        if (!run) {
          this.logger.warn({ runId }, 'event for an unknown run ignored');
          continue;
        }
        const cause = causes.get(runId);
        const span =
          cause &&
          startSpan('coordinator.transition', {
            parent: cause,
            attributes: { 'run.id': runId, 'workflow.id': run.workflowId, 'run.inputs': inputs.length },
          });
        if (span) spans.set(runId, span);
        const write = span
          ? await context.with(span.context, () => this.transition(run, inputs, now))
          : await this.transition(run, inputs, now);
        if (write) {
          writes.push(write);
          span?.span.setAttributes({ 'run.status': write.state.status, 'run.effects': write.effects.length });
        }
      }
      if (writes.length) {
        const headersOf = (runId: string) => {
          const span = spans.get(runId);
          return span && traceHeaders(span.context);
        };
        try {
          await inTransaction(this.pool, async (client) => {
            await storeTransitions(client, writes);
            await insertOutboxRows(
              client,
              await runOutboxRows(this.codec, this.config.KAFKA_TOPIC_PREFIX, writes, headersOf),
            );
          });
        } catch (error) {
          for (const w of writes) this.cache.delete(w.run.id);
          throw error;
        }
      }
    } catch (error) {
      for (const span of spans.values()) endSpan(span, error);
      throw error;
    }
    for (const w of writes) {
      if (!isTerminal(w.state.status)) continue;
      this.runTraces.delete(w.run.id);
      // One line per finished run, with its ids (and, when traced, its trace_id).
      const log = () =>
        this.logger
          .child({ runId: w.run.id, workflowId: w.run.workflowId })
          .info({ status: w.state.status, events: w.state.eventSeq }, 'run finished');
      const span = spans.get(w.run.id);
      if (span) context.with(span.context, log);
      else log();
    }
    for (const span of spans.values()) endSpan(span);
    if (writes.length) {
      for (const w of writes) {
        if (isTerminal(w.state.status)) this.cache.delete(w.run.id);
        else this.cache.set({ ...w.run, started: true, state: w.state, version: w.run.version + 1 });
        const definition = this.definitions.get(w.run.workflowId, w.run.workflowVersion);
        this.metrics.observe(w.run, w.state, w.effects, (id) => definition?.nodes[id]?.type ?? 'unknown');
      }
    }
    stop();
  }

  private async transition(run: StoredRun, inputs: readonly CoordinatorInput[], now: number): Promise<RunWrite | null> {
    const definition = this.definitions.get(run.workflowId, run.workflowVersion);
    if (!definition) throw new Error(`run ${run.id}: workflow ${run.workflowId} has no version ${run.workflowVersion}`);
    const ctx: MachineContext = {
      definition,
      input: run.input,
      now,
      random: Math.random,
      evaluate: async (expression, data) =>
        this.evaluator.evaluate(expression, {
          input: data.input,
          nodes: await this.content.resolveNodeOutputs(data.nodes),
        }),
      runTimeoutMs: this.config.RUN_DEFAULT_TIMEOUT_MS,
    };
    let state: RunState =
      run.state.eventSeq === 0 && run.state.status === 'pending' ? initialState(definition) : run.state;
    const effects = [];
    for (const input of inputs) {
      const next =
        input.kind === 'start' ? await startRun(state, ctx, input.requestedAt) : await applyInput(state, input, ctx);
      state = next.state;
      effects.push(...next.effects);
    }
    return effects.length ? { run, state, effects } : null;
  }

  private async load(ids: readonly string[]): Promise<Map<string, StoredRun>> {
    const found = new Map<string, StoredRun>();
    const missing: string[] = [];
    for (const id of ids) {
      const cached = this.cache.get(id);
      if (cached) found.set(id, cached);
      else missing.push(id);
    }
    this.cacheMetrics.hit(found.size);
    const started = performance.now();
    for (const run of await loadRuns(this.pool, missing)) found.set(run.id, run);
    this.cacheMetrics.miss(missing.length, (performance.now() - started) / 1000);
    await this.definitions.load(
      [...found.values()].map((r) => ({ workflowId: r.workflowId, version: r.workflowVersion })),
    );
    return found;
  }

  /**
   * Messages of ours that could not be handled went to a dead-letter topic: their runs fail with the reason rather
   * than wait for an event that will never be applied (DESIGN §3, invariants 3 and 6). The key is the run id, which
   * is all an undecodable message still tells.
   */
  async failPoisonedRuns(letters: readonly DeadLetter[]): Promise<void> {
    const failures = letters.flatMap((letter) => {
      const runId = letter.message.key?.toString();
      if (!runId || !/^[0-9a-f-]{36}$/i.test(runId)) return [];
      const where = `${letter.sourceTopic} partition ${letter.partition} offset ${letter.message.offset}`;
      return [
        {
          runId,
          reason: `an event of this run could not be handled (${letter.error}); it is in ${letter.sourceTopic}.dlq (${where})`,
        },
      ];
    });
    if (!failures.length) return;
    const topic = `${this.config.KAFKA_TOPIC_PREFIX}run.events`;
    await inTransaction(this.pool, async (client) => {
      const failed = await failRunsDirectly(client, failures);
      const rows = await Promise.all(
        failed.map(async (f) => ({
          topic,
          key: f.runId,
          eventType: 'run.event',
          payload: await this.codec.encode('run-event', topic, {
            ...envelope(f.seq, f.workspaceId),
            type: 'run.event',
            runId: f.runId,
            workflowId: f.workflowId,
            kind: 'run.failed',
            status: 'failed',
            nodeId: null,
            detailJson: JSON.stringify({ error: f.reason }),
          }),
        })),
      );
      await insertOutboxRows(client, rows);
    });
    for (const f of failures) {
      this.cache.delete(f.runId);
      this.runTraces.delete(f.runId);
    }
    this.logger.error({ runs: failures.map((f) => f.runId) }, 'runs failed: their events went to dead letters');
  }
}
