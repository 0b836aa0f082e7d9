/**
 * One event as an SSE client sees it. `id` numbers the events of one subject without gaps (a run's event seq, a
 * workflow's version), which is what makes `Last-Event-ID` resumption and gap/duplicate detection work.
 */
export interface StreamEvent {
  readonly id: number;
  /** The SSE `event:` field: the run event's kind, or `workflow.materialized`. */
  readonly name: string;
  /** The SSE `data:` field, sent as JSON. */
  readonly data: Readonly<Record<string, unknown>>;
  /** The last event its subject will ever have (a run's end): the stream closes after sending it. */
  readonly terminal: boolean;
}

/** Where a stream's events come from besides Kafka: Postgres, for replay, gaps and missed tails. */
export interface StreamHistory {
  /** The subject's events with id > `after`, in id order, at most `limit` of them. */
  after(after: number, limit: number): Promise<StreamEvent[]>;
  /** The last id of a subject that can have no more events (a finished run), or undefined while it may still grow. */
  finishedThrough(): Promise<number | undefined>;
}

/** What a stream is about: its key in the live feed, and its history. */
export interface StreamSubject {
  readonly kind: 'run' | 'workflow';
  /** `run:<id>` or `workflow:<id>`, the feed's routing key. */
  readonly key: string;
  readonly history: StreamHistory;
  /**
   * `history.finishedThrough()` as read with the subject itself, so the first catch-up of a new stream needs no query
   * of its own; later checks (the idle re-read) ask again.
   */
  readonly finishedThrough: number | undefined;
  /** The last event id Postgres held at the lookup, where the subject knows it (runs). */
  readonly projectedThrough?: number;
}
