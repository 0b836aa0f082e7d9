import type { StreamEvent, StreamHistory } from './stream-event.js';

/** Where a subject's events of the last moments can be read from (the event feed). */
export interface RecentEventSource {
  recentAfter(key: string, after: number): Promise<StreamEvent[]>;
}

/**
 * A subject's history: the feed's recent events when they continue the stream's position without a gap (the common
 * case, a client watching a run it just started: no Postgres read at all), else Postgres continued by them. Postgres
 * is a projection that trails Kafka; without the feed a stream opened just after a run started would have to skip
 * the run's first events (or wait for the projector) to go on with the live ones.
 *
 * `projectedThrough` is the last event id Postgres held when the subject was looked up. When it is not past the
 * stream's position, the first read skips Postgres: a client watching the run it just started opens its stream before
 * the projector has written anything, and the read would find nothing. What the projector writes in between reaches
 * the stream from the feed, recent or live, as every event does; a gap still reads Postgres, as does every later read.
 */
export function withRecentEvents(
  history: StreamHistory,
  key: string,
  recent: RecentEventSource,
  projectedThrough?: number,
): StreamHistory {
  let first = true;
  const continuing = (page: StreamEvent[], events: readonly StreamEvent[], after: number, limit: number) => {
    let last = page.at(-1)?.id ?? after;
    for (const event of events) {
      if (event.id <= last) continue;
      if (event.id !== last + 1 || page.length >= limit) break;
      page.push(event);
      last = event.id;
    }
    return page;
  };
  return {
    finishedThrough: () => history.finishedThrough(),
    after: async (after, limit) => {
      const kept = await recent.recentAfter(key, after);
      const firstRead = first;
      first = false;
      if (kept[0]?.id === after + 1) return continuing([], kept, after, limit);
      if (firstRead && projectedThrough !== undefined && after >= projectedThrough) return [];
      const page = await history.after(after, limit);
      return page.length >= limit ? page : continuing(page, kept, after, limit);
    },
  };
}

/**
 * The history with its first `finishedThrough()` answered from what the subject lookup already read (just before the
 * history, as the session's ordering needs), so a new stream costs one query less; later calls ask again.
 */
export function knownFinish(history: StreamHistory, known: number | undefined): StreamHistory {
  let first = true;
  return {
    after: (after, limit) => history.after(after, limit),
    finishedThrough: () => {
      if (!first) return history.finishedThrough();
      first = false;
      return Promise.resolve(known);
    },
  };
}
