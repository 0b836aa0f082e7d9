import { Inject, Injectable } from '@nestjs/common';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { AppConfig } from '#libs/config';
import { inTransaction, type Pool } from '#libs/db';
import { envelope, type EventCodec } from '#libs/events';
import type { EventBatch } from '#libs/messaging';
import { insertOutboxRows } from '#libs/outbox';
import { CONFIG, EVENT_CODEC, LOGGER, METRICS_REGISTRY, PG_POOL } from '#libs/platform';
import { context } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { endSpan, linkTo, messageContext, startSpan, traceHeaders, type StartedSpan } from '#libs/tracing';
import { lockHeads, readPending, writeDecisions } from './materialize.sql.js';
import { planVersions } from './plan-versions.js';

/**
 * Turns a batch of patch.created events into versions: one transaction per batch that locks the batch's workflows,
 * folds everything pending for them in sequence order, and writes versions, patch decisions and workflow.materialized
 * outbox rows with bulk statements. The transport commits the Kafka offsets only after this resolves, so a crash
 * anywhere replays the batch, and replaying finds nothing pending: redelivery changes nothing.
 */
@Injectable()
export class MaterializerService {
  private readonly batchSize: Histogram;
  private readonly duration: Histogram;
  private readonly decided: Counter<'status'>;
  private readonly versionsMade: Counter;
  private readonly logger: Logger;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(EVENT_CODEC) private readonly codec: EventCodec,
    @Inject(CONFIG) private readonly config: AppConfig,
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.logger = logger.child({ component: 'materializer' });
    this.batchSize = new Histogram({
      name: 'materializer_batch_patches',
      help: 'Patches decided per materialization batch',
      buckets: [1, 5, 10, 50, 100, 500, 1000, 5000],
      registers: [registry],
    });
    this.duration = new Histogram({
      name: 'materializer_batch_duration_seconds',
      help: 'Time to materialize one batch, transaction included',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    });
    this.decided = new Counter({
      name: 'materializer_patches_total',
      help: 'Patches decided',
      labelNames: ['status'],
      registers: [registry],
    });
    this.versionsMade = new Counter({
      name: 'materializer_versions_total',
      help: 'Workflow versions materialized',
      registers: [registry],
    });
  }

  async materialize(batch: EventBatch<'patch.created'>): Promise<void> {
    const workflowIds = [...new Set(batch.messages.map((m) => m.value.workflowId))].sort();
    if (!workflowIds.length) return;
    const stop = this.duration.startTimer();
    const spans = this.startSpans(batch);
    try {
      await this.materializeIn(workflowIds, spans);
      for (const span of spans.values()) endSpan(span);
    } catch (error) {
      for (const span of spans.values()) endSpan(span, error);
      throw error;
    }
    stop();
  }

  /**
   * With tracing on, one span per workflow of the batch whose patches carry a trace: child of its latest patch's
   * consumer span, linked to the others. Its workflow.materialized event carries this span's context.
   */
  private startSpans(batch: EventBatch<'patch.created'>): Map<string, StartedSpan> {
    const spans = new Map<string, StartedSpan>();
    const causes = new Map<string, ReturnType<typeof messageContext>[]>();
    for (const message of batch.messages) {
      const cause = messageContext(message);
      if (!cause) continue;
      const workflowId = message.value.workflowId;
      causes.set(workflowId, [...(causes.get(workflowId) ?? []), cause]);
    }
    for (const [workflowId, contexts] of causes) {
      const span = startSpan('materializer.materialize', {
        parent: contexts.at(-1),
        links: contexts.slice(0, -1).flatMap(linkTo),
        attributes: { 'workflow.id': workflowId, 'workflow.patches_in_batch': contexts.length },
      });
      if (span) spans.set(workflowId, span);
    }
    return spans;
  }

  /** Rounds of at most MATERIALIZER_MAX_PENDING_BYTES of patches each, until nothing of these workflows is pending. */
  private async materializeIn(workflowIds: readonly string[], spans: ReadonlyMap<string, StartedSpan>): Promise<void> {
    while (!(await this.materializeRound(workflowIds, spans))) {
      this.logger.debug({ workflows: workflowIds.length }, 'more patches pending than one round reads; next round');
    }
  }

  /** One transaction; resolves whether it read every pending patch of the workflows. */
  private async materializeRound(
    workflowIds: readonly string[],
    spans: ReadonlyMap<string, StartedSpan>,
  ): Promise<boolean> {
    let complete = true;
    const plan = await inTransaction(this.pool, async (client) => {
      const heads = await lockHeads(client, workflowIds);
      const pending = await readPending(client, heads, this.config.MATERIALIZER_MAX_PENDING_BYTES);
      complete = pending.complete;
      const plan = planVersions(heads, pending.patches, this.config.MATERIALIZER_MAX_PATCHES_PER_VERSION, {
        allowedHosts: this.config.SSRF_ALLOWED_HOSTS,
        maxBytes: this.config.DEFINITION_MAX_BYTES,
        maxDepth: this.config.JSON_MAX_DEPTH,
      });
      await writeDecisions(client, plan.versions, plan.decisions, plan.heads);
      const events = await Promise.all(
        plan.events.map(({ head, version, applied, rejected }) =>
          this.codec.outboxRow(
            'workflow.materialized',
            head.id,
            {
              // Versions are consecutive per workflow, so consumers can use them to spot gaps and duplicates.
              ...envelope(version.version, head.workspaceId),
              type: 'workflow.materialized',
              workflowId: head.id,
              version: version.version,
              appliedThroughSeq: version.appliedThroughSeq,
              appliedPatchIds: applied,
              rejected,
            },
            traceOf(spans.get(head.id), version.version),
          ),
        ),
      );
      await insertOutboxRows(client, events);
      return plan;
    });
    if (plan.decisions.length) this.batchSize.observe(plan.decisions.length);
    for (const d of plan.decisions) this.decided.inc({ status: d.status });
    this.versionsMade.inc(plan.versions.length);
    // One line per workflow version made (with its trace when traced), naming what was rejected and why.
    for (const { head, version, applied, rejected } of plan.events) {
      const log = this.logger.child({ workflowId: head.id });
      const fields = { version: version.version, applied: applied.length, rejected };
      const span = spans.get(head.id);
      if (span) context.with(span.context, () => log.info(fields, 'workflow materialized'));
      else log.info(fields, 'workflow materialized');
    }
    return complete;
  }
}

/** The trace headers of a workflow's span, which learns the version it made; nothing without a span. */
function traceOf(span: StartedSpan | undefined, version: number): Record<string, string> | undefined {
  if (!span) return undefined;
  span.span.setAttribute('workflow.version', version);
  return traceHeaders(span.context);
}
