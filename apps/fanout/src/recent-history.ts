import type { StreamEvent, StreamHistory } from './stream-event.js';

/** Where a subject's events of the last moments can be read from (the event feed). */
export interface RecentEventSource {
  recentAfter(key: string, after: number): Promise<StreamEvent[]>;
}

/**
 * A subject's history: Postgres first, then, where Postgres ends, the feed's recent events that continue it without a
 * gap. Postgres is a projection that trails Kafka; without the second part a stream opened just after a run started
 * would have to skip the run's first events (or wait for the projector) to go on with the live ones.
 */
export function withRecentEvents(history: StreamHistory, key: string, recent: RecentEventSource): StreamHistory {
  return {
    finishedThrough: () => history.finishedThrough(),
    after: async (after, limit) => {
      const page = await history.after(after, limit);
      if (page.length >= limit) return page;
      let last = page.at(-1)?.id ?? after;
      for (const event of await recent.recentAfter(key, last)) {
        if (event.id !== last + 1 || page.length >= limit) break;
        page.push(event);
        last = event.id;
      }
      return page;
    },
  };
}
