import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { context, type Context } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { ContentStore, type BlobBackend } from '#libs/cas';
import { ExpressionEvaluator } from '#libs/expressions';
import type { AppConfig } from '#libs/config';
import type { Pool } from '#libs/db';
import type { EventCodec } from '#libs/events';
import { CompressionTypes, type Kafka, type Transaction } from '#libs/kafka';
import { BatchRewound, CommitAfter, PartitionLost, type DeadLetter, type DecodedMessage } from '#libs/messaging';
import { BLOB_BACKEND, CONFIG, EVENT_CODEC, KAFKA, LOGGER, METRICS_REGISTRY, PG_POOL } from '#libs/platform';
import {
  applyInput,
  initialState,
  isTerminal,
  startRun,
  type Effect,
  type MachineContext,
  type RunState,
} from '#libs/runs';
import { endSpan, messageContext, startSpan, traceHeaders, tracingEnabled, type StartedSpan } from '#libs/tracing';
import { BatchCoalescer, Permits } from '#libs/messaging';
import { boundWrites, type BoundedWrite } from './bounded-writes.js';
import { restoreChangelog } from './changelog-restore.js';
import { CoordinatorMetrics } from './coordinator-metrics.js';
import { DefinitionCache, type BatchDefinitions } from './definition-cache.js';
import { outputRefsOf, type OwnedRun, type RunWrite } from './owned-run.js';
import { PendingTransaction } from './pending-transaction.js';
import { Rewinds, type BatchStart } from './rewinds.js';
import { unfinishedProjectedRuns } from './projected-runs.sql.js';
import { sendRequests, transitionMessages, type RunMessage, type RunTraceHeaders } from './run-messages.js';
import { isFenced, RunPartitions, type OwnedGroup } from './run-partitions.js';
import { coordinatorInputs, type CoordinatorBatch, type CoordinatorInput } from './run-inputs.js';
import { RunTagLabels } from './run-tag-labels.js';

/** Inputs of one partition number (from one batch, or from its dead letters), applied together with others. */
interface PartitionWork {
  readonly partition: number;
  readonly inputs: readonly { runId: string; input: CoordinatorInput; message?: DecodedMessage }[];
  /** Where the input batch starts (none for dead letters, which the transport hands over after their batch). */
  readonly from?: BatchStart;
}

/** Tombstones written per transaction at most, so forgetting a burst of finished runs never makes one huge. */
const FORGET_PER_TRANSACTION = 1_000;

/**
 * Messages a group's next transaction may gather while the one before it commits; beyond that, applying waits for
 * that one to end, so a slow broker holds the input in Kafka rather than in memory.
 */
const MAX_PENDING_MESSAGES = 20_000;

/**
 * Consume, decide, produce: for the batches of one transaction group of partition numbers (of run.requested,
 * node.completed and run.control, co-partitioned by run id), feeds each run its inputs through the pure state machine,
 * then writes, in one Kafka transaction, the tasks, the run events and a changelog record per run touched. Runs live in memory,
 * restored from the changelog when the partition is assigned; Postgres is not on this path (workflow versions are
 * read once per process, the projection only for runs the changelog no longer holds).
 *
 * Pipelined: a batch is applied to the runs in memory at once, and its messages join the group's next transaction,
 * which starts when the one under way ended; the handler returns before either commits (CommitAfter), so the consumer
 * fetches the next input meanwhile, and the transport commits the batch's offsets once its transaction did. Waiting for
 * each commit before the next fetch had the coordinator inside a transaction 75 % of the time with its input waiting.
 * A failed transaction breaks the group: everything applied after the last commit is void, the group is restored from
 * the changelog (RunPartitions.recover), the transport reads the partitions again from their first batch not committed,
 * and batches fetched before that rewind are refused (`rewinds`) so no input overtakes one read again.
 *
 * A transaction either commits everything or nothing. The consumed offsets are committed by the transport after it,
 * not inside it: AddOffsetsToTxn and TxnOffsetCommit were 1.7 of the 4.5 ms a transaction took here (bench/README.md).
 * A crash between the two replays inputs whose effects the changelog already holds, and every input is idempotent
 * against the state (a completion counts only for the attempt in flight, a start only for a pending run, a timer only
 * for its attempt, a cancel only for a live run), so the replay changes nothing.
 */
@Injectable()
export class CoordinatorService implements OnApplicationShutdown {
  readonly partitions: RunPartitions;
  private readonly writers = new Map<number, BatchCoalescer<PartitionWork, CommitAfter>>();
  /** Input partitions read again after a void transaction: what was fetched before must not overtake. */
  private readonly rewinds = new Rewinds();
  /** Partitions waiting here gather more input for their next transaction meanwhile. */
  private readonly transactions: Permits;
  /**
   * With tracing on, the trace context each owned, unfinished run was last seen in: its events that carry none (fired
   * timers) continue the run's trace from there. Lost on restart and rebalance.
   */
  private readonly runTraces = new Map<string, Context>();
  private readonly definitions: DefinitionCache;
  private readonly content: ContentStore;
  private readonly metrics: CoordinatorMetrics;
  private readonly logger: Logger;
  readonly groupId: string;

  constructor(
    @Inject(KAFKA) kafka: Kafka,
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(BLOB_BACKEND) blobs: BlobBackend,
    @Inject(EVENT_CODEC) private readonly codec: EventCodec,
    @Inject(CONFIG) private readonly config: AppConfig,
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Inject(LOGGER) logger: Logger,
    @Inject(ExpressionEvaluator) private readonly evaluator: ExpressionEvaluator,
  ) {
    this.groupId = `${config.KAFKA_TOPIC_PREFIX}coordinator`;
    this.transactions = new Permits(config.COORDINATOR_MAX_TRANSACTIONS);
    this.definitions = new DefinitionCache(pool, config.COORDINATOR_DEFINITION_CACHE_MAX_BYTES);
    this.content = new ContentStore(pool, blobs);
    this.metrics = new CoordinatorMetrics(
      registry,
      () => this.partitions.runCount,
      new RunTagLabels(config.METRICS_RUN_TAGS, config.METRICS_MAX_RUN_TAGS),
    );
    this.logger = logger.child({ component: 'coordinator' });
    this.partitions = new RunPartitions({
      kafka,
      logger: this.logger,
      transactionalIdPrefix: `${config.KAFKA_TOPIC_PREFIX}coordinator-p`,
      groups: config.COORDINATOR_PARTITION_GROUPS,
      transactionTimeoutMs: 60_000,
      unspill: (workspaceId, json, ref) => this.content.unspill(workspaceId, json, ref),
      restored: (runs) =>
        this.adoptOutputs(runs.flatMap((run) => outputRefsOf(run).map((ref) => [run.workspaceId, ref]))),
      restore: (partitions) =>
        restoreChangelog(
          {
            kafka,
            codec,
            logger: this.logger,
            timeoutMs: 60_000,
          },
          partitions,
        ),
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.partitions.close();
  }

  /** The group's partitions moved: fence and restore the ones now owned (batches wait for it). */
  assign(assignment: Readonly<Record<string, readonly number[]>>): void {
    this.runTraces.clear();
    // A join restarts every partition at its committed offset, before any rewind point.
    this.rewinds.clear();
    this.partitions.assign(assignment['run.requested'] ?? []);
  }

  /** Resolves once the batch is applied in memory, with its transaction's outcome to come (see the class comment). */
  handle(batch: CoordinatorBatch): Promise<CommitAfter> {
    const first = batch.messages[0]?.offset;
    return this.writer(batch.partition).submit({
      partition: batch.partition,
      inputs: coordinatorInputs(batch),
      ...(first === undefined ? {} : { from: { key: `${batch.topic}:${batch.partition}`, first: BigInt(first) } }),
    });
  }

  /**
   * Messages of ours that could not be handled went to a dead-letter topic: their runs fail with the reason rather
   * than wait for an event that will never be applied (DESIGN §3, invariants 3 and 6), before the transport moves the
   * offsets past them. The key is the run id, which is all an undecodable message still tells.
   */
  async failPoisonedRuns(letters: readonly DeadLetter[]): Promise<void> {
    const partition = letters[0]?.partition;
    if (partition === undefined) return;
    const inputs = letters.flatMap((letter): { runId: string; input: CoordinatorInput }[] => {
      const runId = letter.message.key?.toString();
      if (!runId || !/^[0-9a-f-]{36}$/i.test(runId)) return [];
      const where = `${letter.sourceTopic} partition ${letter.partition} offset ${letter.message.offset}`;
      const reason = `an event of this run could not be handled (${letter.error}); it is in ${letter.sourceTopic}.dlq (${where})`;
      return [{ runId, input: { kind: 'poison', reason } }];
    });
    const applied = await this.writer(partition).submit({ partition, inputs });
    await applied.durable;
    if (inputs.length) {
      this.logger.error({ runs: inputs.map((i) => i.runId) }, 'runs failed: their events went to dead letters');
    }
  }

  /** One writer per transaction group: what its partitions' batches bring while it writes goes in its next write. */
  private writer(partition: number): BatchCoalescer<PartitionWork, CommitAfter> {
    const group = this.partitions.groupOf(partition);
    let writer = this.writers.get(group);
    if (!writer) {
      writer = new BatchCoalescer((work) => this.process(work));
      this.writers.set(group, writer);
    }
    return writer;
  }

  private async process(work: readonly PartitionWork[]): Promise<CommitAfter> {
    const owners = new Set(await Promise.all(work.map((w) => this.partitions.get(w.partition))));
    const [partition] = owners;
    // One group writes in one transaction; a merged write whose partitions are now held apart (a reassignment between
    // the batches) fails, and the coalescer writes each batch alone.
    if (!partition || owners.size !== 1) throw new Error('the batches of one write are of different groups now');
    const filling = partition.filling;
    if (filling && filling.messages.length >= MAX_PENDING_MESSAGES) await filling.previous.catch(() => undefined);
    if (partition.broken) throw new BatchRewound(`partitions ${partition.name} are being restored`);
    const starts = work.flatMap((w) => (w.from ? [w.from] : []));
    this.rewinds.admit(starts);
    const stop = this.metrics.batchDuration.startTimer();
    const now = Date.now();
    const byRun = new Map<string, CoordinatorInput[]>();
    // Per run, the context of its latest traced event in this write (none when tracing is off).
    const causes = new Map<string, Context>();
    for (const { inputs } of work) {
      for (const { runId, input, message } of inputs) {
        const cause = message && messageContext(message);
        if (cause) causes.set(runId, cause);
        const list = byRun.get(runId) ?? [];
        // A run's request and its other events can arrive in one write from different topics: the start goes first.
        if (input.kind === 'start') list.unshift(input);
        else list.push(input);
        byRun.set(runId, list);
      }
    }
    if (tracingEnabled()) {
      for (const runId of byRun.keys()) {
        const cause = causes.get(runId);
        if (cause) this.runTraces.set(runId, cause);
        else if (this.runTraces.has(runId)) causes.set(runId, this.runTraces.get(runId) as Context);
      }
    }
    const { runs, definitions } = await this.runsFor(partition, byRun, now);
    await this.adoptOutputs(
      [...byRun].flatMap(([runId, inputs]) => {
        const run = runs.get(runId);
        if (!run) return [];
        return inputs.flatMap((input) =>
          input.kind === 'completed' && input.outputRef !== undefined ? [[run.workspaceId, input.outputRef]] : [],
        );
      }),
    );
    const transitions: RunWrite[] = [];
    const spans = new Map<string, StartedSpan>();
    let writes: readonly BoundedWrite[];
    try {
      for (const [runId, inputs] of byRun) {
        const run = runs.get(runId);
        if (!run) continue;
        const cause = causes.get(runId);
        const span =
          cause &&
          startSpan('coordinator.transition', {
            parent: cause,
            attributes: { 'run.id': runId, 'workflow.id': run.workflowId, 'run.inputs': inputs.length },
          });
        if (span) spans.set(runId, span);
        const write = span
          ? await context.with(span.context, () => this.transition(run, inputs, now, definitions))
          : await this.transition(run, inputs, now, definitions);
        if (write) {
          transitions.push(write);
          span?.span.setAttributes({ 'run.status': write.state.status, 'run.effects': write.effects.length });
        }
      }
      writes = await this.bounded(transitions, now, definitions, (runId) => {
        const span = spans.get(runId);
        return span && traceHeaders(span.context);
      });
    } catch (error) {
      for (const span of spans.values()) endSpan(span, error);
      throw error;
    }
    // The state moves now, before the commit: the next batches apply to it (a failed commit restores the group).
    const finished: RunWrite[] = [];
    for (const { write: w } of writes) {
      if (isTerminal(w.state.status)) {
        partition.runs.delete(w.run.id);
        partition.finished.set(w.run.id, now);
        this.runTraces.delete(w.run.id);
        finished.push(w);
      } else {
        partition.runs.set(w.run.id, { ...w.run, state: w.state, version: w.run.version + 1 });
      }
    }
    const durable = this.enqueue(
      partition,
      writes.flatMap((w) => w.messages),
      starts,
      () => {
        for (const { write: w } of writes) {
          const definition = definitions.get(w.run.workflowId, w.run.workflowVersion);
          this.metrics.observe(w.run, w.state, w.effects, (id) => definition?.nodes[id]?.type ?? 'unknown');
        }
        for (const w of finished) {
          const log = () =>
            this.logger
              .child({ runId: w.run.id, workflowId: w.run.workflowId })
              .info({ status: w.state.status, events: w.state.eventSeq }, 'run finished');
          const span = spans.get(w.run.id);
          if (span) context.with(span.context, log);
          else log();
        }
      },
    );
    for (const span of spans.values()) endSpan(span);
    stop();
    return new CommitAfter(durable);
  }

  /**
   * The messages join the group's next transaction, which starts when the one under way ended; resolves when it
   * committed. A broken group takes nothing more.
   */
  private enqueue(
    group: OwnedGroup,
    messages: readonly RunMessage[],
    batches: readonly BatchStart[],
    onCommit: () => void,
  ): Promise<void> {
    if (group.broken || group.lost) {
      this.noteRewinds(group, batches);
      return Promise.reject(new BatchRewound(`partitions ${group.name} are being restored`));
    }
    let pending = group.filling;
    if (!pending) {
      const next = new PendingTransaction(group.tail);
      pending = group.filling = next;
      group.tail = group.tail.then(() => {
        if (group.filling === next) group.filling = undefined;
        return this.transactions.with(() => this.commit(group, next.messages));
      });
      group.tail.then(
        () => next.committed(),
        (error: unknown) => {
          if (group.filling === next) group.filling = undefined;
          this.breakGroup(group, next);
          next.failed(error);
        },
      );
    }
    pending.add(messages, batches, onCommit);
    return pending.done;
  }

  /**
   * A transaction of the group failed (or one before it did): what was applied since the last commit is void. The
   * group takes nothing more, is restored from the changelog (unless fenced: then it is lost), and the batches of the
   * failed transaction are read again from the first.
   */
  private breakGroup(group: OwnedGroup, failed: PendingTransaction): void {
    this.noteRewinds(group, failed.batches);
    if (group.broken) return;
    group.broken = true;
    if (!group.lost) this.partitions.recover(group);
  }

  /**
   * Only for a group of the latest assignment: one an assignment replaced failed because it was (its producer
   * closed), and the consumer's rejoin restarted its partitions at their committed offsets (the transport seeks
   * nothing for it); noting the rewind then would refuse, for good, every later batch of a partition read on past it.
   */
  private noteRewinds(group: OwnedGroup, batches: readonly BatchStart[]): void {
    if (this.partitions.isCurrent(group)) this.rewinds.note(batches);
  }

  /**
   * The transitions' messages, large JSON spilled to content-addressed storage; a run whose messages would still be
   * too large for Kafka fails instead (bounded-writes.ts).
   */
  private bounded(
    transitions: readonly RunWrite[],
    now: number,
    definitions: BatchDefinitions,
    traceHeadersOf: RunTraceHeaders,
  ): Promise<BoundedWrite[]> {
    return boundWrites(transitions, {
      build: (write) =>
        transitionMessages(this.codec, write, {
          at: now,
          traceHeadersOf,
          spill: (json) => this.content.spill(write.run.workspaceId, json, this.config.EVENT_INLINE_MAX_BYTES),
        }),
      fail: (write, reason) => this.transition(write.run, [{ kind: 'poison', reason }], now, definitions),
      maxBytes: this.config.KAFKA_MESSAGE_MAX_BYTES,
      onTooLarge: (write, reason, dropped) => {
        this.metrics.runsTooLarge.inc({ outcome: dropped ? 'dropped' : 'failed' });
        this.logger
          .child({ runId: write.run.id, workflowId: write.run.workflowId })
          .error({ reason }, dropped ? 'run too large even to fail: transition dropped' : 'run failed: too large');
      },
    });
  }

  /**
   * One transaction: every message of the writes and the tombstones of runs finished long enough ago, in as many
   * requests as keep each under KAFKA_MESSAGE_MAX_BYTES (usually one). The consumed offsets are not in it: the
   * transport commits them once it resolved (see the class comment).
   */
  private async commit(partition: OwnedGroup, messages: readonly RunMessage[]): Promise<void> {
    const now = Date.now();
    const forget: string[] = [];
    for (const [runId, finishedAt] of partition.finished) {
      if (now - finishedAt < this.config.RUN_FINISHED_RETENTION_MS || forget.length >= FORGET_PER_TRANSACTION) break;
      forget.push(runId);
    }
    const requests = sendRequests(this.codec, messages, forget, this.config.KAFKA_MESSAGE_MAX_BYTES);
    // Nothing to write (duplicates, events of finished runs): no transaction at all; the transport commits the offsets.
    if (!requests.length) return;
    let transaction: Transaction | undefined;
    const stop = this.metrics.transactionDuration.startTimer();
    try {
      transaction = await partition.producer.transaction();
      for (const topicMessages of requests) {
        await transaction.sendBatch({ topicMessages, acks: -1, compression: CompressionTypes.Snappy });
      }
      await transaction.commit();
    } catch (error) {
      if (isFenced(error)) {
        partition.lost = true;
        throw new PartitionLost(`the producer of partitions ${partition.name} was fenced by a newer owner`);
      }
      await transaction?.abort().catch(() => undefined);
      throw error;
    }
    stop();
    this.metrics.transactions.inc();
    for (const runId of forget) partition.finished.delete(runId);
  }

  /**
   * The runs the inputs are for: those held in memory, new ones from their run.requested, and, for the rest (see
   * projected-runs.sql.ts), the unfinished ones of the projection. Runs finished lately are left alone.
   */
  private async runsFor(
    partition: OwnedGroup,
    byRun: ReadonlyMap<string, readonly CoordinatorInput[]>,
    now: number,
  ): Promise<{ runs: Map<string, OwnedRun>; definitions: BatchDefinitions }> {
    const found = new Map<string, OwnedRun>();
    const unknown: string[] = [];
    for (const [runId, inputs] of byRun) {
      const held = partition.runs.get(runId);
      if (held) found.set(runId, held);
      else if (partition.finished.has(runId)) continue;
      else {
        const start = inputs[0]?.kind === 'start' ? inputs[0].request : undefined;
        // A fresh request cannot be for a run finished and forgotten since: no need to ask the projection.
        if (start && now - start.occurredAt < this.config.RUN_FINISHED_RETENTION_MS) {
          found.set(runId, {
            id: runId,
            workspaceId: start.workspaceId,
            workflowId: start.workflowId,
            workflowVersion: start.workflowVersion,
            input: JSON.parse(
              await this.content.unspill(start.workspaceId, start.inputJson, start.inputRef),
            ) as unknown,
            ...(start.inputRef === null ? {} : { inputRef: start.inputRef }),
            tag: start.tag,
            permission: start.permission ?? null,
            requestedAt: start.occurredAt,
            state: { status: 'pending', nodes: {}, edges: {}, eventSeq: 0 },
            version: 0,
          });
        } else unknown.push(runId);
      }
    }
    if (unknown.length) {
      const projected = await unfinishedProjectedRuns(this.pool, unknown);
      await this.adoptOutputs(
        [...projected.values()].flatMap((run) => outputRefsOf(run).map((ref) => [run.workspaceId, ref])),
      );
      for (const [id, run] of projected) found.set(id, run);
      const ignored = unknown.filter((id) => !projected.has(id));
      if (ignored.length) this.logger.debug({ runs: ignored }, 'events for finished or unknown runs ignored');
    }
    const definitions = await this.definitions.load(
      [...found.values()].map((r) => ({ workflowId: r.workflowId, version: r.workflowVersion })),
    );
    return { runs: found, definitions };
  }

  /**
   * Node outputs reach the coordinator by reference in its runs' own fields: completions, the changelog it restores
   * from, the projection it takes runs up from. A reference made before blobs belonged to a workspace names a blob
   * left in cas_blobs_legacy; it is copied into the run's workspace here (ContentStore.adopt), before the run's
   * conditions or tasks read it, since those see outputs only as reference-shaped values (`{$ref}`), which never
   * adopt. Costs nothing once no old blobs are left.
   */
  private async adoptOutputs(refs: readonly (readonly [workspaceId: string, ref: string])[]): Promise<void> {
    const byWorkspace = new Map<string, string[]>();
    for (const [workspaceId, ref] of refs) {
      const list = byWorkspace.get(workspaceId) ?? [];
      list.push(ref);
      byWorkspace.set(workspaceId, list);
    }
    await Promise.all([...byWorkspace].map(([workspaceId, list]) => this.content.adopt(workspaceId, list)));
  }

  private async transition(
    run: OwnedRun,
    inputs: readonly CoordinatorInput[],
    now: number,
    definitions: BatchDefinitions,
  ): Promise<RunWrite | null> {
    const definition = definitions.get(run.workflowId, run.workflowVersion);
    if (!definition) throw new Error(`run ${run.id}: workflow ${run.workflowId} has no version ${run.workflowVersion}`);
    const ctx: MachineContext = {
      definition,
      input: run.input,
      now,
      random: Math.random,
      evaluate: async (expression, data) =>
        this.evaluator.evaluate(expression, {
          input: data.input,
          nodes: await this.content.resolveNodeOutputs(run.workspaceId, data.nodes),
        }),
      runTimeoutMs: this.config.RUN_DEFAULT_TIMEOUT_MS,
    };
    let state: RunState =
      run.state.eventSeq === 0 && run.state.status === 'pending' ? initialState(definition) : run.state;
    const effects: Effect[] = [];
    for (const input of inputs) {
      const next =
        input.kind === 'start'
          ? await startRun(state, ctx, input.request.occurredAt)
          : await applyInput(state, input, ctx);
      state = next.state;
      effects.push(...next.effects);
    }
    return effects.length ? { run, state, effects } : null;
  }
}
