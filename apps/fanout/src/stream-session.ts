import type { StreamEvent, StreamHistory } from './stream-event.js';
import type { Listener } from './subscribers.js';

/** What a session writes to; SseResponse in production, a fake in unit tests. */
export interface EventSink {
  readonly closed: boolean;
  send(event: StreamEvent): Promise<void>;
  comment(text: string): Promise<void>;
  end(): void;
}

export type EndReason = 'finished' | 'client_closed' | 'slow_client' | 'shutdown' | 'error';
export type EventSource = 'history' | 'live';

export interface StreamSessionOptions {
  /** The last id the client already has (Last-Event-ID), 0 for everything. */
  readonly after: number;
  /** Keep-alive comment interval; an idle stream also re-reads its history this often. */
  readonly heartbeatMs: number;
  /** Live events allowed to wait behind a slow client before it is cut off (it resumes from Postgres). */
  readonly maxQueued: number;
  /** History rows read per query. */
  readonly pageSize: number;
  /** Awaited before the first history read (the live feed being in position). */
  readonly beforeCatchUp?: () => Promise<unknown>;
  readonly onSent?: (event: StreamEvent, source: EventSource) => void;
  readonly onEnd?: (reason: EndReason, error?: unknown) => void;
}

/**
 * One client's stream: history from Postgres, then live events, with no duplicate and no gap.
 *
 * The session subscribes to the live feed before it reads history, and every piece of work (the history read, each
 * live event, the periodic re-read) runs one at a time in arrival order. So live events that arrive during the
 * history read wait behind it, and are then dropped if their id was already sent: subscribe, buffer, read, flush.
 * Kafka can still skip events (a feed that joined late, a consumer restart at the latest offset) and redeliver them
 * (at-least-once relay); ids are consecutive, so a live event beyond the next id triggers a history read first, and
 * a stream that has been idle for a heartbeat re-reads its history in case its tail (say the terminal event) never
 * came through Kafka. A run's events reach Postgres after Kafka (the run projector writes them), so the history a
 * session reads is Postgres continued by the feed's recent events (recent-history.ts).
 */
export class StreamSession {
  private lastId: number;
  private work: Promise<void> = Promise.resolve();
  private queued = 0;
  private liveSinceTick = false;
  private ended: EndReason | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly sink: EventSink,
    private readonly history: StreamHistory,
    private readonly options: StreamSessionOptions,
  ) {
    this.lastId = options.after;
  }

  /** The id of the last event sent (or the client's Last-Event-ID before that). */
  get lastSentId(): number {
    return this.lastId;
  }

  get endReason(): EndReason | undefined {
    return this.ended;
  }

  /** Subscribes through `subscribe` (which returns its own undo) and starts the catch-up and the heartbeat. */
  start(subscribe: (listener: Listener) => () => void): void {
    this.unsubscribe = subscribe((event) => this.receive(event));
    if (this.options.beforeCatchUp) this.enqueue(this.options.beforeCatchUp);
    this.enqueue(() => this.catchUp(true));
    this.heartbeat = setInterval(() => this.tick(), this.options.heartbeatMs);
    this.heartbeat.unref();
  }

  /** A live event for this subject. */
  receive(event: StreamEvent): void {
    if (this.ended) return;
    this.liveSinceTick = true;
    if (this.queued >= this.options.maxQueued) {
      this.end('slow_client');
      return;
    }
    this.enqueue(() => this.deliver(event));
  }

  /** Stops the stream: unsubscribes, ends the response, reports why. Later calls do nothing. */
  end(reason: EndReason, error?: unknown): void {
    if (this.ended) return;
    this.ended = reason;
    clearInterval(this.heartbeat);
    this.unsubscribe?.();
    this.sink.end();
    this.options.onEnd?.(reason, error);
  }

  /** Resolves once the work queued so far is done (tests use it to wait for quiet). */
  settled(): Promise<void> {
    return this.work;
  }

  private enqueue(task: () => Promise<unknown>): void {
    this.queued++;
    this.work = this.work.then(async () => {
      try {
        if (!this.ended) await task();
      } catch (error) {
        // A history read failed (Postgres down, say): the client reconnects with Last-Event-ID and resumes.
        this.end('error', error);
      } finally {
        this.queued--;
      }
    });
  }

  private async deliver(event: StreamEvent): Promise<void> {
    if (event.id <= this.lastId) return; // a duplicate, or already sent from history
    if (event.id > this.lastId + 1) {
      await this.catchUp(false);
      if (event.id <= this.lastId) return;
      // Still a gap: history does not have the missing ids. Holding the event back would stall the stream for good.
    }
    await this.send(event, 'live');
  }

  /** Sends whatever history holds after the last id; with `checkFinished`, ends the stream if the subject is done. */
  private async catchUp(checkFinished: boolean): Promise<void> {
    // Read before the history: a finished subject's events are all committed by the time its status says so.
    const finishedThrough = checkFinished ? await this.history.finishedThrough() : undefined;
    for (;;) {
      const page = await this.history.after(this.lastId, this.options.pageSize);
      for (const event of page) {
        if (this.ended) return;
        await this.send(event, 'history');
      }
      if (page.length < this.options.pageSize) break;
    }
    if (finishedThrough !== undefined && this.lastId >= finishedThrough) this.end('finished');
  }

  private async send(event: StreamEvent, source: EventSource): Promise<void> {
    if (this.ended) return;
    if (this.sink.closed) {
      this.end('client_closed');
      return;
    }
    await this.sink.send(event);
    this.lastId = event.id;
    this.options.onSent?.(event, source);
    if (event.terminal) this.end('finished');
  }

  private tick(): void {
    if (this.ended) return;
    void this.sink.comment('keep-alive');
    if (!this.liveSinceTick && this.queued === 0) this.enqueue(() => this.catchUp(true));
    this.liveSinceTick = false;
  }
}
