import type { ApiClient } from './api-client.js';
import { sortedCopy } from './stats.js';

export interface LoadOptions {
  /** Requests in flight at any time (each worker sends its next request as soon as its last one was answered). */
  readonly concurrency: number;
  readonly durationMs: number;
  /** The next request to send: path and JSON body. */
  readonly next: () => { path: string; body: string };
}

export interface LoadResult {
  /** Requests answered 202 (only these count as throughput and have a latency). */
  readonly accepted: number;
  /** From the first request sent to the last answer received. */
  readonly elapsedMs: number;
  /** 202 latencies, ascending, in ms (from sending the request to the end of the response). */
  readonly latenciesMs: Float64Array;
  /** Everything else, by status or error code. */
  readonly failures: ReadonlyMap<string, number>;
}

/**
 * A closed-loop load: `concurrency` workers each send one POST at a time until the duration is up, then finish the
 * request they have in flight. Closed loop means the measured latency includes no client-side queueing: throughput is
 * what the service sustains with this many requests outstanding.
 */
export async function runClosedLoop(client: ApiClient, options: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  const failures = new Map<string, number>();
  const fail = (what: string) => failures.set(what, (failures.get(what) ?? 0) + 1);
  const started = performance.now();
  const deadline = started + options.durationMs;
  let lastAnswer = started;

  const worker = async () => {
    while (performance.now() < deadline && !client.closed) {
      const { path, body } = options.next();
      const sent = performance.now();
      try {
        const status = await client.postStatus(path, body);
        lastAnswer = performance.now();
        if (status === 202) latencies.push(lastAnswer - sent);
        else fail(`HTTP ${status}`);
      } catch (error) {
        lastAnswer = performance.now();
        fail((error as { code?: string }).code ?? (error as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return {
    accepted: latencies.length,
    elapsedMs: lastAnswer - started,
    latenciesMs: sortedCopy(latencies),
    failures,
  };
}
