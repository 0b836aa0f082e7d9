import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AppConfig } from '#libs/config';
import type { Pool } from '#libs/db';
import type { EventCodec } from '#libs/events';
import type { Kafka } from '#libs/kafka';
import { CONFIG, EVENT_CODEC, KAFKA, LOGGER, METRICS_REGISTRY, PG_POOL, ProblemError } from '#libs/platform';
import { EventFeed } from './event-feed.js';
import { FanoutMetrics } from './fanout-metrics.js';
import { RunEventsRepository } from './run-events.js';
import { SseResponse } from './sse-response.js';
import type { StreamSubject } from './stream-event.js';
import { knownFinish, withRecentEvents } from './recent-history.js';
import { StreamQuota } from './stream-quota.js';
import { StreamSession } from './stream-session.js';
import { WorkflowEventsRepository } from './workflow-events.js';

/** Live events that may wait behind a slow client; past that it is cut off and resumes from Postgres. */
const MAX_QUEUED_EVENTS = 1_000;
const HISTORY_PAGE_SIZE = 500;
/** How long a new stream waits for the feed to be in position after start-up before reading history anyway. */
const FEED_READY_TIMEOUT_MS = 10_000;
/** The SSE `retry:` sent to clients: how soon EventSource reconnects after a stream ends. */
const CLIENT_RETRY_MS = 2_000;

/**
 * The Nest shell of the fanout: owns the process's event feed, looks subjects up for the caller's workspace, and runs
 * one StreamSession per connected client until it finishes, the client leaves, or the app shuts down.
 */
@Injectable()
export class EventStreams implements OnApplicationBootstrap, BeforeApplicationShutdown {
  readonly feed: EventFeed;
  private readonly runs: RunEventsRepository;
  private readonly workflows: WorkflowEventsRepository;
  private readonly metrics: FanoutMetrics;
  private readonly sessions = new Set<StreamSession>();
  private readonly quota: StreamQuota;
  private closing = false;

  constructor(
    @Inject(CONFIG) private readonly config: AppConfig,
    @Inject(KAFKA) kafka: Kafka,
    @Inject(EVENT_CODEC) codec: EventCodec,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Inject(PG_POOL) pool: Pool,
  ) {
    this.feed = new EventFeed({
      kafka,
      codec,
      logger: logger.child({ component: 'fanout-feed' }),
      sessionTimeoutMs: config.CONSUMER_SESSION_TIMEOUT_MS,
      recent: { retainMs: config.FANOUT_RECENT_MS, maxBytes: config.FANOUT_RECENT_MAX_BYTES },
    });
    this.runs = new RunEventsRepository(pool);
    this.workflows = new WorkflowEventsRepository(pool);
    this.metrics = new FanoutMetrics(registry);
    this.quota = new StreamQuota(config.SSE_MAX_STREAMS_PER_WORKSPACE);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.feed.start();
  }

  /** Ends every stream before the HTTP server closes (which would otherwise wait for them), then leaves Kafka. */
  async beforeApplicationShutdown(): Promise<void> {
    this.closing = true;
    for (const session of this.sessions) session.end('shutdown');
    await this.feed.stop();
  }

  /** How many streams are open (tests, diagnostics). */
  get openStreams(): number {
    return this.sessions.size;
  }

  async runSubject(workspaceId: string, runId: string): Promise<StreamSubject> {
    const subject = await this.runs.subject(workspaceId, runId);
    if (!subject) throw new ProblemError('not_found', `no run ${runId}`);
    return subject;
  }

  async workflowSubject(workspaceId: string, workflowId: string): Promise<StreamSubject> {
    const subject = await this.workflows.subject(workspaceId, workflowId);
    if (!subject) throw new ProblemError('not_found', `no workflow ${workflowId}`);
    return subject;
  }

  /**
   * Streams the subject's events with id > `after`. A finished run with nothing left after `after` gets 204, which is
   * what tells an EventSource to stop reconnecting. A workspace at its cap of open streams gets 429.
   */
  serve(reply: FastifyReply, subject: StreamSubject, after: number, workspaceId: string): void {
    if (this.closing) throw new ProblemError('dependency_unavailable', 'the fanout is shutting down; reconnect');
    const { finishedThrough } = subject;
    if (finishedThrough !== undefined && after >= finishedThrough) {
      void reply.code(204).header('cache-control', 'no-cache').send();
      return;
    }
    const release = this.quota.acquire(workspaceId);
    if (!release) {
      throw new ProblemError(
        'rate_limited',
        `this workspace has ${this.config.SSE_MAX_STREAMS_PER_WORKSPACE} event streams open, its limit; close one first`,
        undefined,
        { retryAfterSeconds: CLIENT_RETRY_MS / 1000 },
      );
    }
    // From here on the response is ours, not Fastify's: it must stay open after the handler returns.
    reply.hijack();
    const sse = new SseResponse(reply.raw);
    sse.open(CLIENT_RETRY_MS);
    const history = knownFinish(
      withRecentEvents(subject.history, subject.key, this.feed, subject.projectedThrough),
      finishedThrough,
    );
    const session = new StreamSession(sse, history, {
      after,
      heartbeatMs: this.config.FANOUT_HEARTBEAT_MS,
      maxQueued: MAX_QUEUED_EVENTS,
      pageSize: HISTORY_PAGE_SIZE,
      beforeCatchUp: () => this.feed.whenReady(FEED_READY_TIMEOUT_MS),
      onSent: (_event, source) => this.metrics.sent(subject.kind, source),
      onEnd: (reason, error) => {
        release();
        this.sessions.delete(session);
        this.metrics.ended(subject.kind, reason);
        if (reason === 'error') this.logger.warn({ err: error, subject: subject.key }, 'event stream failed');
      },
    });
    this.sessions.add(session);
    this.metrics.opened(subject.kind);
    sse.onClose(() => session.end('client_closed'));
    session.start((listener) => this.feed.subscribers.add(subject.key, listener));
  }
}
