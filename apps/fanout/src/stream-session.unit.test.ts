import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StreamEvent, StreamHistory } from './stream-event.js';
import { StreamSession, type EndReason, type EventSink } from './stream-session.js';
import type { Listener } from './subscribers.js';

const event = (id: number, terminal = false): StreamEvent => ({ id, name: `e${id}`, data: { id }, terminal });

class FakeSink implements EventSink {
  readonly sent: number[] = [];
  comments = 0;
  closed = false;
  send(e: StreamEvent): Promise<void> {
    this.sent.push(e.id);
    return Promise.resolve();
  }
  comment(): Promise<void> {
    this.comments++;
    return Promise.resolve();
  }
  end(): void {
    this.closed = true;
  }
}

/** Postgres as the session sees it: committed events, optionally held at the next read until released. */
class FakeHistory implements StreamHistory {
  events: StreamEvent[] = [];
  finished: number | undefined;
  reads = 0;
  failNext = false;
  private gate: Promise<void> | undefined;
  private openGate: (() => void) | undefined;

  hold(): void {
    this.gate = new Promise((resolve) => (this.openGate = resolve));
  }
  release(): void {
    this.openGate?.();
    this.gate = undefined;
  }
  async after(after: number, limit: number): Promise<StreamEvent[]> {
    this.reads++;
    const snapshot = this.events.filter((e) => e.id > after).slice(0, limit);
    await this.gate;
    if (this.failNext) throw new Error('database down');
    return snapshot;
  }
  finishedThrough(): Promise<number | undefined> {
    return Promise.resolve(this.finished);
  }
}

function setup(options: { after?: number; heartbeatMs?: number; maxQueued?: number; pageSize?: number } = {}) {
  const sink = new FakeSink();
  const history = new FakeHistory();
  let listener: Listener | undefined;
  let unsubscribed = false;
  const ends: EndReason[] = [];
  const session = new StreamSession(sink, history, {
    after: options.after ?? 0,
    heartbeatMs: options.heartbeatMs ?? 60_000,
    maxQueued: options.maxQueued ?? 100,
    pageSize: options.pageSize ?? 2,
    onEnd: (reason) => ends.push(reason),
  });
  const start = () =>
    session.start((l) => {
      listener = l;
      return () => (unsubscribed = true);
    });
  const live = (e: StreamEvent) => {
    history.events.push(e); // committed before it reaches Kafka (the outbox)
    listener?.(e);
  };
  /** Delivered by Kafka again, not committed again. */
  const redeliver = (e: StreamEvent) => listener?.(e);
  return { sink, history, session, start, live, redeliver, ends, unsubscribed: () => unsubscribed };
}

describe('StreamSession', () => {
  it('replays history after the resume point in pages, then live events, without duplicates', async () => {
    const t = setup({ after: 1 });
    t.history.events = [1, 2, 3, 4, 5].map((id) => event(id));
    t.start();
    await t.session.settled();
    assert.deepEqual(t.sink.sent, [2, 3, 4, 5]);
    t.live(event(6));
    t.live(event(6)); // redelivered by Kafka
    t.live(event(7));
    await t.session.settled();
    assert.deepEqual(t.sink.sent, [2, 3, 4, 5, 6, 7]);
  });

  it('buffers live events that arrive during the history read and flushes only the ones it has not sent', async () => {
    const t = setup();
    t.history.events = [event(1), event(2)];
    t.history.hold();
    t.start();
    // Committed and published while the first read is in flight: the read's snapshot has 1-2, the feed brings 2-4.
    t.redeliver(event(2));
    t.live(event(3));
    t.live(event(4));
    t.history.release();
    await t.session.settled();
    assert.deepEqual(t.sink.sent, [1, 2, 3, 4]);
  });

  it('fills a gap from history when a live event skips ids', async () => {
    const t = setup();
    t.start();
    await t.session.settled();
    t.history.events.push(event(1), event(2)); // committed, but Kafka never brought them to this instance
    t.live(event(3));
    await t.session.settled();
    assert.deepEqual(t.sink.sent, [1, 2, 3]);
  });

  it('ends after the terminal event and unsubscribes', async () => {
    const t = setup();
    t.start();
    t.live(event(1));
    t.live(event(2, true));
    t.live(event(3));
    await t.session.settled();
    assert.deepEqual(t.sink.sent, [1, 2]);
    assert.deepEqual(t.ends, ['finished']);
    assert.ok(t.sink.closed && t.unsubscribed());
  });

  it('ends once a finished subject has sent everything, even without a terminal event', async () => {
    const t = setup();
    t.history.events = [event(1), event(2)];
    t.history.finished = 2;
    t.start();
    await t.session.settled();
    assert.deepEqual(t.sink.sent, [1, 2]);
    assert.deepEqual(t.ends, ['finished']);
  });

  it('re-reads history when idle for a heartbeat, so a tail Kafka lost still arrives', async () => {
    const t = setup({ heartbeatMs: 20 });
    t.start();
    await t.session.settled();
    t.history.events.push(event(1), event(2, true)); // never published
    const deadline = Date.now() + 2_000;
    while (!t.ends.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(t.sink.sent, [1, 2]);
    assert.deepEqual(t.ends, ['finished']);
    assert.ok(t.sink.comments >= 1, 'keep-alive comments');
  });

  it('cuts off a client that cannot keep up instead of queueing without bound', async () => {
    const t = setup({ maxQueued: 3 });
    t.history.hold();
    t.start();
    for (let id = 1; id <= 5; id++) t.live(event(id));
    t.history.release();
    await t.session.settled();
    assert.deepEqual(t.ends, ['slow_client']);
  });

  it('ends with error when history cannot be read, so the client reconnects and resumes', async () => {
    const t = setup();
    t.history.failNext = true;
    t.start();
    await t.session.settled();
    assert.deepEqual(t.ends, ['error']);
  });
});
