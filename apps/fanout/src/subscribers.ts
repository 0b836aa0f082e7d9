import type { StreamEvent } from './stream-event.js';

export type Listener = (event: StreamEvent) => void;

/** In-memory fan-out: the process's one Kafka consumer hands each event to the streams open on its run or workflow. */
export class Subscribers {
  private readonly byKey = new Map<string, Set<Listener>>();

  /** Adds a listener for `key`; the returned function removes it (and the key once nobody listens). */
  add(key: string, listener: Listener): () => void {
    let listeners = this.byKey.get(key);
    if (!listeners) this.byKey.set(key, (listeners = new Set()));
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
      if (!listeners.size && this.byKey.get(key) === listeners) this.byKey.delete(key);
    };
  }

  /** Lets the feed skip decoding messages nobody here is waiting for. */
  has(key: string): boolean {
    return this.byKey.has(key);
  }

  publish(key: string, event: StreamEvent): void {
    for (const listener of this.byKey.get(key) ?? []) listener(event);
  }

  /** Keys with at least one listener (for tests and diagnostics). */
  get keys(): number {
    return this.byKey.size;
  }
}
