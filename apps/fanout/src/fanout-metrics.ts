import { Counter, Gauge, type Registry } from 'prom-client';
import type { EndReason, EventSource } from './stream-session.js';

type Stream = 'run' | 'workflow';

export class FanoutMetrics {
  readonly openStreams: Gauge<'stream'>;
  readonly eventsSent: Counter<'stream' | 'source'>;
  readonly streamsEnded: Counter<'stream' | 'reason'>;

  constructor(registry: Registry) {
    this.openStreams = new Gauge({
      name: 'fanout_open_streams',
      help: 'Server-Sent Event streams open now',
      labelNames: ['stream'],
      registers: [registry],
    });
    this.eventsSent = new Counter({
      name: 'fanout_events_sent_total',
      help: 'Events written to SSE streams, replayed from Postgres (history) or pushed from Kafka (live)',
      labelNames: ['stream', 'source'],
      registers: [registry],
    });
    this.streamsEnded = new Counter({
      name: 'fanout_streams_ended_total',
      help: 'SSE streams ended, by why: finished (terminal event sent), client_closed, slow_client, shutdown, error',
      labelNames: ['stream', 'reason'],
      registers: [registry],
    });
    // Zeroes, so dashboards show the series before the first stream.
    for (const stream of ['run', 'workflow'] satisfies Stream[]) this.openStreams.set({ stream }, 0);
  }

  opened(stream: Stream): void {
    this.openStreams.inc({ stream });
  }

  sent(stream: Stream, source: EventSource): void {
    this.eventsSent.inc({ stream, source });
  }

  ended(stream: Stream, reason: EndReason): void {
    this.openStreams.dec({ stream });
    this.streamsEnded.inc({ stream, reason });
  }
}
