import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { Agent } from 'undici';
import { ContentStore, type BlobBackend } from '#libs/cas';
import type { AppConfig } from '#libs/config';
import type { Pool } from '#libs/db';
import {
  envelope,
  runControlEvent,
  type CachedResult,
  type DispatchTopic,
  type EventCodec,
  type NodeCompleted,
  type NodeDispatch,
} from '#libs/events';
import {
  chunkByBytes,
  IDEMPOTENT_PRODUCER,
  messageBytes,
  openProducer,
  type Message,
  type Producer,
} from '#libs/kafka';
import { BatchCoalescer, CommitAfter, type DeadLetter, type EventBatch } from '#libs/messaging';
import { BLOB_BACKEND, CONFIG, EVENT_CODEC, KAFKA, LOGGER, METRICS_REGISTRY, PG_POOL } from '#libs/platform';
import { ExpressionEvaluator } from '#libs/expressions';
import { inSpan, messageContext, traceHeaders } from '#libs/tracing';
import { createGuardedAgent, resolveWithDns } from './http/guarded-agent.js';
import type { ExecutionResult } from './execution-result.js';
import { NodeCacheService } from './node-cache.service.js';
import { SemanticCacheService } from './semantic-cache.service.js';
import { executeTask, inputsRead, prepareTask, type ExecutorDeps } from './task-executor.js';
import { attemptKey, UnsentCompletions } from './unsent-completions.js';
import { WorkerMetrics } from './worker-metrics.js';

/** Memory for executed but unpublished completions (inline outputs are at most OUTPUT_INLINE_MAX_BYTES each). */
const UNSENT_COMPLETIONS_MAX_BYTES = 64 * 1024 * 1024;

/**
 * Batches whose completions may wait for or be under way to Kafka while the consumer fetches on; beyond that a batch
 * waits for its own publish, so a slow broker holds the tasks in Kafka rather than their results in memory.
 */
const MAX_UNPUBLISHED_BATCHES = 64;

interface ExecutedTask {
  readonly completion: NodeCompleted;
  /** The trace context of the task's span (none when the task had none or tracing is off). */
  readonly trace: Record<string, string> | undefined;
  /** The result's write to the node result cache, awaited once the completion is sent. */
  readonly written?: Promise<unknown>;
}

/**
 * Executes a batch of node.dispatch.<type> tasks, several at once, and publishes one node.completed per task (keyed by
 * run id). The handler returns once the tasks ran, with the publish under way (CommitAfter): the consumer fetches the
 * next tasks meanwhile, and the transport commits the input offsets only once the completions are in Kafka, so a
 * crash re-executes tasks rather than losing them, and the coordinator ignores a completion it already applied. A
 * failed publish does not re-execute: the transport reads the batch again, and its tasks' results are still in
 * `unsent`.
 */
@Injectable()
export class WorkerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly httpAgent: Agent;
  /** Connections to the model provider (an operator-set address, so not the SSRF-guarded agent), kept across tasks. */
  private readonly llmAgent = new Agent({ keepAliveTimeout: 30_000 });
  private readonly producer: Producer;
  private readonly deps: ExecutorDeps;
  private readonly metrics: WorkerMetrics;
  private readonly logger: Logger;
  private readonly unsent = new UnsentCompletions<ExecutedTask>(UNSENT_COMPLETIONS_MAX_BYTES);
  /**
   * The completions of the partition batches that finish while one send is under way leave in the next send: a
   * produce request per partition batch was most of the worker's Kafka requests under load.
   */
  private readonly completions = new BatchCoalescer<readonly Message[]>((batches) => this.publish(batches.flat()));
  /** Batches whose completions are not published yet. */
  private unpublished = 0;

  constructor(
    @Inject(KAFKA) kafka: Kafka,
    @Inject(PG_POOL) pool: Pool,
    @Inject(BLOB_BACKEND) blobs: BlobBackend,
    @Inject(EVENT_CODEC) private readonly codec: EventCodec,
    @Inject(CONFIG) private readonly config: AppConfig,
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Inject(LOGGER) logger: Logger,
    @Inject(ExpressionEvaluator) evaluator: ExpressionEvaluator,
    private readonly cache: NodeCacheService,
    private readonly semantic: SemanticCacheService,
  ) {
    this.producer = openProducer(kafka, 'worker', IDEMPOTENT_PRODUCER);
    this.httpAgent = createGuardedAgent(config.SSRF_ALLOWED_HOSTS, resolveWithDns);
    this.deps = {
      evaluator,
      content: new ContentStore(pool, blobs),
      http: {
        allowedHosts: config.SSRF_ALLOWED_HOSTS,
        defaultTimeoutMs: config.HTTP_NODE_TIMEOUT_MS,
        maxResponseBytes: config.HTTP_MAX_RESPONSE_BYTES,
        maxRedirects: config.HTTP_MAX_REDIRECTS,
        // One agent for every task: connections (and TLS sessions) to a service are reused instead of opened per call.
        agent: this.httpAgent,
      },
      ...(config.LLM_BASE_URL
        ? {
            agent: {
              baseUrl: config.LLM_BASE_URL,
              ...(config.LLM_API_KEY ? { apiKey: config.LLM_API_KEY } : {}),
              defaultTimeoutMs: config.AGENT_TIMEOUT_MS,
              maxResponseBytes: config.AGENT_MAX_RESPONSE_BYTES,
              dispatcher: this.llmAgent,
              onUsage: (model, usage) => {
                this.metrics.agentTokens.inc({ model, kind: 'prompt' }, usage.promptTokens);
                this.metrics.agentTokens.inc({ model, kind: 'completion' }, usage.completionTokens);
              },
            },
          }
        : {}),
    };
    this.metrics = new WorkerMetrics(registry);
    this.logger = logger.child({ component: 'worker' });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.producer.connect();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.producer.disconnect();
    await this.httpAgent.close();
    await this.llmAgent.close();
  }

  async execute(batch: EventBatch<DispatchTopic>): Promise<CommitAfter> {
    const tasks = batch.messages.map((m) => m.value);
    const executed = new Array<ExecutedTask>(tasks.length);
    const queue = [...tasks.entries()];
    const lane = async () => {
      for (let item = queue.shift(); item; item = queue.shift()) {
        const [index, task] = item;
        const key = attemptKey(task);
        const done = this.unsent.get(key) ?? (await this.executeTraced(task, batch.messages[index] as object));
        this.unsent.set(key, done, completionBytes(done.completion));
        executed[index] = done;
      }
    };
    await Promise.all(Array.from({ length: Math.min(tasks.length, this.config.WORKER_TASK_PARALLELISM) }, lane));
    const messages = await Promise.all(
      executed.map(({ completion, trace }) =>
        this.codec.message('node.completed', completion.runId, completion, trace),
      ),
    );
    this.unpublished++;
    const durable = this.completions
      .submit(messages)
      .finally(() => this.unpublished--)
      .then(async () => {
        for (const task of tasks) this.unsent.delete(attemptKey(task));
        // Before the offsets are committed: a task retried after a crash should find what this one stored.
        await Promise.all(executed.flatMap((done) => (done.written ? [done.written] : [])));
      });
    if (this.unpublished > MAX_UNPUBLISHED_BATCHES) await durable;
    return new CommitAfter(durable);
  }

  private async publish(messages: readonly Message[]): Promise<void> {
    // Up to WORKER_TASK_PARALLELISM outputs of up to OUTPUT_INLINE_MAX_BYTES each per batch: more than one request
    // can carry.
    for (const chunk of chunkByBytes(messages, messageBytes, this.config.KAFKA_MESSAGE_MAX_BYTES)) {
      await this.producer.send({ topic: this.codec.names.of('node.completed'), acks: -1, messages: chunk });
    }
  }

  private async executeTraced(task: NodeDispatch, message: object): Promise<ExecutedTask> {
    const cause = messageContext(message);
    if (!cause) return { ...(await this.run(task)), trace: undefined };
    return inSpan(
      `node.execute ${task.nodeType}`,
      {
        parent: cause,
        attributes: {
          'run.id': task.runId,
          'workflow.id': task.workflowId,
          'node.id': task.nodeId,
          'node.type': task.nodeType,
          'node.attempt': task.attempt,
        },
      },
      async (started) => {
        const ran = await this.run(task);
        const { status, cached } = ran.completion;
        started?.span.setAttributes({ 'node.status': status, 'node.cached': cached !== null });
        return { ...ran, trace: started && traceHeaders(started.context) };
      },
    );
  }

  private async run(task: NodeDispatch): Promise<Omit<ExecutedTask, 'trace'>> {
    const startedAt = Date.now();
    if (task.triggeredAt !== null) {
      this.metrics.hopLatency.observe(
        { from_type: task.fromType ?? 'unknown', to_type: task.nodeType },
        Math.max(0, startedAt - task.triggeredAt),
      );
    }
    const prepared = await prepareTask(task, this.deps.content);
    // Exact cache first; on its miss an agent node's semantic lookup, then the model.
    let semanticHit: CachedResult | null = null;
    const aroundModel = this.semantic.around(task, prepared.config, (hit) => {
      semanticHit = hit;
    });
    // A result is checked for what Postgres cannot store before the cache may keep it.
    const served = await this.cache.serve(task, prepared.config, inputsRead(task, prepared), async () =>
      storable(await executeTask(task, this.deps, prepared, aroundModel)),
    );
    const { result } = served;
    const cached = served.cached ?? semanticHit;
    if (!result.ok) {
      // Logged inside the task's span when traced, so the line carries its trace_id.
      this.logger
        .child({ runId: task.runId, workflowId: task.workflowId, nodeId: task.nodeId })
        .warn({ nodeType: task.nodeType, attempt: task.attempt, error: result.error }, 'node attempt failed');
    }
    const stored = result.ok
      ? await this.deps.content.storeJson(task.workspaceId, result.output, this.config.OUTPUT_INLINE_MAX_BYTES)
      : null;
    this.metrics.taskDuration.observe(
      { type: task.nodeType, status: result.ok ? 'succeeded' : 'failed' },
      (Date.now() - startedAt) / 1000,
    );
    const completion: NodeCompleted = {
      ...envelope(task.seq, task.workspaceId),
      type: 'node.completed',
      runId: task.runId,
      nodeId: task.nodeId,
      attempt: task.attempt,
      status: result.ok ? 'succeeded' : pastDeadline(task) ? 'timed_out' : 'failed',
      outputJson: stored && 'json' in stored ? stored.json : null,
      outputRef: stored && 'ref' in stored ? stored.ref : null,
      error: result.ok ? null : boundedError(result.error),
      nodeType: task.nodeType,
      startedAt,
      cached,
    };
    return { completion, written: served.written };
  }

  /** A task that cannot be decoded or executed went to dead letters: its run is told, so it fails instead of hanging. */
  async reportPoisonedTasks(letters: readonly DeadLetter[]): Promise<void> {
    const messages = [];
    for (const letter of letters) {
      const runId = letter.message.key?.toString();
      if (!runId) continue;
      const reason = `a task of this run could not be handled (${letter.error}); it is in ${letter.sourceTopic}.dlq (partition ${letter.partition} offset ${letter.message.offset})`;
      const workspaceId =
        letter.message.headers?.['workspace-id']?.toString() ?? '00000000-0000-0000-0000-000000000000';
      messages.push(
        await this.codec.message('run.control', runId, runControlEvent({ workspaceId, runId, kind: 'poison', reason })),
      );
    }
    if (messages.length) await this.producer.send({ topic: this.codec.names.of('run.control'), acks: -1, messages });
    this.logger.error({ runs: messages.map((m) => m.key) }, 'tasks sent to dead letters; their runs will fail');
  }
}

/**
 * Outputs end up in Postgres' jsonb (the run projection, the run's output), which cannot hold U+0000: one such output
 * would stop the projection of its partition. It fails its node instead, by name; the output is not altered silently.
 */
function storable(result: ExecutionResult): ExecutionResult {
  if (!result.ok || !JSON.stringify(result.output ?? null).includes('\\u0000')) return result;
  return { ok: false, error: 'OutputNotStorable: the output holds U+0000 (NUL), which JSON in Postgres cannot store' };
}

/**
 * Error texts (an upstream's answer, an expression's message) travel inline in events and state: keep them short, and
 * without U+0000 (see `storable`).
 */
const ERROR_MAX_CHARS = 4_096;
const boundedError = (raw: string) => {
  const error = raw.replaceAll('\u0000', '\uFFFD');
  return error.length <= ERROR_MAX_CHARS
    ? error
    : `${error.slice(0, ERROR_MAX_CHARS)}… (${error.length - ERROR_MAX_CHARS} more characters)`;
};
/** What a kept completion weighs: its inline output or error, and room for the rest of the event. */
const completionBytes = (c: NodeCompleted) => (c.outputJson?.length ?? 0) + (c.error?.length ?? 0) + 512;

/** A failure at or past the task's deadline is the node's timeout, however the executor noticed it. */
const pastDeadline = (task: NodeDispatch) => task.deadlineAt !== null && Date.now() >= task.deadlineAt - 5;
