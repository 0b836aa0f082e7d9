import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { knownFinish, withRecentEvents } from './recent-history.js';
import { RecentMessages } from './recent-messages.js';
import type { StreamEvent, StreamHistory } from './stream-event.js';

const event = (id: number): StreamEvent => ({ id, name: `e${id}`, data: { id }, terminal: false });

const postgres = (ids: number[], finished?: number): StreamHistory => ({
  after: (after, limit) =>
    Promise.resolve(
      ids
        .filter((id) => id > after)
        .slice(0, limit)
        .map(event),
    ),
  finishedThrough: () => Promise.resolve(finished),
});

const feed = (ids: number[]) => ({
  recentAfter: (_key: string, after: number) => Promise.resolve(ids.filter((id) => id > after).map(event)),
});

const idsOf = (events: StreamEvent[]) => events.map((e) => e.id);

describe('withRecentEvents', () => {
  it('continues Postgres with the feed where the projection has not caught up', async () => {
    const history = withRecentEvents(postgres([1, 2]), 'run:x', feed([2, 3, 4]));
    assert.deepEqual(idsOf(await history.after(0, 100)), [1, 2, 3, 4]);
    assert.deepEqual(idsOf(await history.after(3, 100)), [4]);
  });

  it('does not ask Postgres when the feed continues the position', async () => {
    let reads = 0;
    const counted: StreamHistory = {
      after: () => {
        reads++;
        return Promise.resolve([]);
      },
      finishedThrough: () => Promise.resolve(undefined),
    };
    const history = withRecentEvents(counted, 'run:x', feed([3, 4]));
    assert.deepEqual(idsOf(await history.after(2, 100)), [3, 4]);
    assert.equal(reads, 0);
    assert.deepEqual(idsOf(await history.after(0, 100)), [], 'ids 1-2 are not in the feed: Postgres is asked');
    assert.equal(reads, 1);
  });

  it('serves a run the projector has not seen at all from the feed alone', async () => {
    const history = withRecentEvents(postgres([]), 'run:x', feed([1, 2, 3]));
    assert.deepEqual(idsOf(await history.after(0, 100)), [1, 2, 3]);
  });

  it('stops at a gap: what follows it must wait for Postgres, never skip an id', async () => {
    const history = withRecentEvents(postgres([1]), 'run:x', feed([2, 4, 5]));
    assert.deepEqual(idsOf(await history.after(0, 100)), [1, 2]);
  });

  it('keeps to the page size, and leaves a full Postgres page alone', async () => {
    assert.deepEqual(idsOf(await withRecentEvents(postgres([]), 'k', feed([1, 2, 3])).after(0, 2)), [1, 2]);
    assert.deepEqual(idsOf(await withRecentEvents(postgres([1, 2]), 'k', feed([3])).after(0, 2)), [1, 2]);
  });

  it('asks Postgres whether the subject is finished', async () => {
    assert.equal(await withRecentEvents(postgres([1], 7), 'k', feed([])).finishedThrough(), 7);
  });
});

describe('RecentMessages', () => {
  const sized = (limits: { retainMs: number; maxBytes: number }) => new RecentMessages<string>(limits, (s) => s.length);

  it('keeps each key in arrival order', () => {
    const recent = sized({ retainMs: 1_000, maxBytes: 1_000 });
    recent.add('a', 'a1', 0);
    recent.add('b', 'b1', 1);
    recent.add('a', 'a2', 2);
    assert.deepEqual(recent.of('a'), ['a1', 'a2']);
    assert.deepEqual(recent.of('b'), ['b1']);
    assert.deepEqual(recent.of('c'), []);
  });

  it('forgets keys not written for longer than the window, and keeps those written since', () => {
    const recent = sized({ retainMs: 100, maxBytes: 1_000 });
    recent.add('old', 'o1', 0);
    recent.add('busy', 'b1', 0);
    recent.add('busy', 'b2', 90);
    recent.prune(150);
    assert.deepEqual(recent.of('old'), []);
    assert.deepEqual(recent.of('busy'), ['b1', 'b2']);
    assert.deepEqual(recent.size, { keys: 1, bytes: 4 });
  });

  it('drops the least recently written keys first when over its bytes', () => {
    const recent = sized({ retainMs: 1_000, maxBytes: 6 });
    recent.add('a', 'aa', 0);
    recent.add('b', 'bb', 1);
    recent.add('a', 'aa', 2);
    recent.add('c', 'cc', 3);
    assert.deepEqual(recent.of('b'), [], 'b was written least recently');
    assert.deepEqual(recent.of('a'), ['aa', 'aa']);
    assert.deepEqual(recent.of('c'), ['cc']);
    assert.ok(recent.size.bytes <= 6);
  });
});

describe('knownFinish', () => {
  it('answers the first finishedThrough from the lookup, and asks the history after that', async () => {
    let asked = 0;
    const history: StreamHistory = {
      after: () => Promise.resolve([]),
      finishedThrough: () => {
        asked++;
        return Promise.resolve(9);
      },
    };
    const known = knownFinish(history, undefined);
    assert.equal(await known.finishedThrough(), undefined);
    assert.equal(asked, 0);
    assert.equal(await known.finishedThrough(), 9);
    assert.equal(asked, 1);
  });
});

describe('withRecentEvents with what the lookup saw projected', () => {
  const counted = (ids: number[]) => {
    const source = postgres(ids);
    const reads: number[] = [];
    const history: StreamHistory = {
      ...source,
      after: (after, limit) => {
        reads.push(after);
        return source.after(after, limit);
      },
    };
    return { history, reads };
  };

  it('skips Postgres on the first read when the lookup saw nothing past the position, and reads from then on', async () => {
    const { history, reads } = counted([1, 2]); // written by the projector after the lookup saw none
    const composed = withRecentEvents(history, 'run:x', feed([]), 0);
    assert.deepEqual(idsOf(await composed.after(0, 100)), []);
    assert.deepEqual(reads, []);
    assert.deepEqual(
      idsOf(await composed.after(0, 100)),
      [1, 2],
      'a later read (a gap, the idle re-read) asks Postgres',
    );
    assert.deepEqual(reads, [0]);
  });

  it('reads Postgres when the lookup saw events past the position, or knew nothing', async () => {
    const behind = counted([1, 2, 3]);
    assert.deepEqual(idsOf(await withRecentEvents(behind.history, 'run:x', feed([]), 3).after(1, 100)), [2, 3]);
    const unknown = counted([1]);
    assert.deepEqual(idsOf(await withRecentEvents(unknown.history, 'run:x', feed([])).after(0, 100)), [1]);
  });

  it('skips only the first read of the stream: a gap after a catch-up from the feed reads Postgres', async () => {
    const { history, reads } = counted([1, 2, 3, 4, 5, 6]);
    const composed = withRecentEvents(history, 'run:x', feed([3, 4, 5, 7]), 4);
    assert.deepEqual(idsOf(await composed.after(2, 100)), [3, 4, 5], 'the first read, from the feed');
    assert.deepEqual(idsOf(await composed.after(5, 100)), [6, 7], 'event 6 never came through Kafka: Postgres has it');
    assert.deepEqual(reads, [5]);
  });
});
