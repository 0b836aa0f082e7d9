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

/**
 * Every answer of a longer load with the time its request was sent (performance.now()), so that a window of it (after
 * a warm-up, say) can be summarized on its own.
 */
export class AnswerLog {
  private readonly sentAt: number[] = [];
  private readonly latencies: number[] = [];
  private readonly failures: { at: number; what: string }[] = [];

  accepted(sentAt: number, latencyMs: number): void {
    this.sentAt.push(sentAt);
    this.latencies.push(latencyMs);
  }

  failed(sentAt: number, what: string): void {
    this.failures.push({ at: sentAt, what });
  }

  /** The requests sent in [from, to): how many were accepted, their latencies (ascending), failures by kind. */
  window(from: number, to: number): Omit<LoadResult, 'elapsedMs'> {
    const latencies: number[] = [];
    this.sentAt.forEach((at, i) => {
      if (at >= from && at < to) latencies.push(this.latencies[i] as number);
    });
    const failures = new Map<string, number>();
    for (const f of this.failures) if (f.at >= from && f.at < to) failures.set(f.what, (failures.get(f.what) ?? 0) + 1);
    return { accepted: latencies.length, latenciesMs: sortedCopy(latencies), failures };
  }
}

/** Sends one POST, logging its answer; resolves with the answer's body on a 202, else undefined. */
export async function postLogged(
  client: ApiClient,
  log: AnswerLog,
  path: string,
  body: string,
): Promise<string | undefined> {
  const sent = performance.now();
  try {
    const reply = await client.post(path, body);
    if (reply.status === 202) {
      log.accepted(sent, performance.now() - sent);
      return reply.text;
    }
    log.failed(sent, `HTTP ${reply.status}`);
  } catch (error) {
    log.failed(sent, (error as { code?: string }).code ?? (error as Error).message);
  }
  return undefined;
}

export interface OpenLoop {
  readonly log: AnswerLog;
  /** How far behind its schedule the sender fell at worst (a busy event loop in this process), in ms. */
  readonly maxLateMs: number;
  /** Stops sending and waits for the answers still outstanding. */
  stop(): Promise<void>;
}

/**
 * An open-loop load: POSTs at `rate` per second on a fixed schedule, whatever the answers (requests beyond the client's
 * connections queue in the client, and show up as latency). `onAccepted` gets each 202's body and when it was sent.
 */
export function startOpenLoop(
  client: ApiClient,
  rate: number,
  next: () => { path: string; body: string },
  onAccepted: (body: string, sentAt: number) => void = () => undefined,
): OpenLoop {
  const log = new AnswerLog();
  const outstanding = new Set<Promise<void>>();
  const interval = 1000 / rate;
  const started = performance.now();
  let scheduled = 0;
  let maxLateMs = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped && !client.closed) {
      const now = performance.now();
      while (started + scheduled * interval <= now) {
        maxLateMs = Math.max(maxLateMs, now - (started + scheduled * interval));
        scheduled++;
        const { path, body } = next();
        const sentAt = performance.now();
        const request: Promise<void> = postLogged(client, log, path, body).then((text) => {
          outstanding.delete(request);
          if (text !== undefined) onAccepted(text, sentAt);
        });
        outstanding.add(request);
      }
      const wait = started + scheduled * interval - performance.now();
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, wait)));
    }
  })();
  return {
    log,
    get maxLateMs() {
      return maxLateMs;
    },
    stop: async () => {
      stopped = true;
      await loop;
      await Promise.all(outstanding);
    },
  };
}
