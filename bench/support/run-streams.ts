import { Pool } from 'undici';

/** The kinds after which a run's stream says no more (the fanout closes it after sending one). */
const TERMINAL = /^event: (run\.completed|run\.failed|run\.cancelled|run\.timed_out)$/m;

/** One run as a client saw it: when its POST was sent, and how long until its stream said it ended. */
export interface WatchedRun {
  readonly sentAt: number;
  readonly ms: number;
  readonly outcome: string;
}

/**
 * Watches runs the way a client does: `GET /v1/runs/{id}/events` right after the 202, read until the terminal event.
 * Its own connection pool (one connection per open stream), so streams never queue behind the load's POSTs.
 */
export class RunStreams {
  private readonly pool: Pool;
  private readonly headers: Record<string, string>;
  readonly watched: WatchedRun[] = [];

  constructor(origin: string, apiKey: string, connections: number) {
    this.pool = new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 30_000 });
    this.headers = { authorization: `Bearer ${apiKey}`, accept: 'text/event-stream' };
  }

  /** Resolves with the terminal event's kind (or why there was none) once the run's stream says it ended. */
  async watch(runId: string, sentAt: number, timeoutMs: number): Promise<string> {
    const signal = AbortSignal.timeout(timeoutMs);
    let outcome = 'stream ended without a terminal event';
    try {
      const response = await this.pool.request({
        method: 'GET',
        path: `/v1/runs/${runId}/events`,
        headers: this.headers,
        signal,
      });
      if (response.statusCode !== 200) {
        await response.body.dump();
        outcome = `HTTP ${response.statusCode}`;
      } else {
        let tail = '';
        for await (const chunk of response.body) {
          tail = (tail + (chunk as Buffer).toString('utf8')).slice(-4096);
          const terminal = TERMINAL.exec(tail);
          if (terminal) {
            outcome = (terminal[1] as string).slice('run.'.length);
            this.watched.push({ sentAt, ms: performance.now() - sentAt, outcome });
            break;
          }
        }
        response.body.destroy();
      }
    } catch (error) {
      outcome = signal.aborted ? `no terminal event within ${timeoutMs} ms` : (error as Error).message;
    }
    return outcome;
  }

  /** Latencies (ms, ascending) of the completed runs whose POST was sent in [from, to). */
  completedIn(from: number, to: number): number[] {
    return this.watched
      .filter((w) => w.outcome === 'completed' && w.sentAt >= from && w.sentAt < to)
      .map((w) => w.ms)
      .sort((a, b) => a - b);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
