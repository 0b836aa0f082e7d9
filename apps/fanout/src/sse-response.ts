import type { ServerResponse } from 'node:http';
import { responseGone } from '#libs/platform';
import type { StreamEvent } from './stream-event.js';

/** One event in the text/event-stream format; JSON never contains a raw newline, so `data:` is one line. */
export function formatEvent(event: StreamEvent): string {
  const name = event.name.replace(/[\r\n]/g, ' ');
  return `id: ${event.id}\nevent: ${name}\ndata: ${JSON.stringify(event.data)}\n\n`;
}

export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  // no-transform: compressing or buffering proxies must pass each event through as it comes.
  'cache-control': 'no-cache, no-transform',
  // nginx buffers responses unless told otherwise.
  'x-accel-buffering': 'no',
} as const;

/**
 * The writing end of one SSE connection, over Node's raw response (the Fastify reply is hijacked: Fastify's own
 * send() would end the response after one payload). Writes wait while the socket buffer is full, so a slow client
 * holds back its own stream and nobody else's.
 */
export class SseResponse {
  constructor(private readonly raw: ServerResponse) {}

  /** Sends the headers and a first line at once: proxies (the API's included) pass the headers on with it. */
  open(retryMs: number): void {
    this.raw.writeHead(200, SSE_HEADERS);
    this.raw.write(`retry: ${retryMs}\n\n`);
  }

  get closed(): boolean {
    return responseGone(this.raw);
  }

  send(event: StreamEvent): Promise<void> {
    return this.write(formatEvent(event));
  }

  comment(text: string): Promise<void> {
    return this.write(`: ${text}\n\n`);
  }

  end(): void {
    if (!this.closed) this.raw.end();
  }

  /** Called once, when the client goes away or the response has ended. */
  onClose(listener: () => void): void {
    this.raw.once('close', listener);
  }

  private async write(chunk: string): Promise<void> {
    if (this.closed || this.raw.write(chunk)) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.raw.off('drain', done);
        this.raw.off('close', done);
        resolve();
      };
      this.raw.on('drain', done);
      this.raw.on('close', done);
    });
  }
}
