import assert from 'node:assert/strict';
import { request, type Dispatcher } from 'undici';

/** One dispatched SSE event, as an EventSource would see it. */
export interface SseEvent {
  readonly id: string | undefined;
  readonly event: string;
  readonly data: string;
}

export interface OpenOptions {
  readonly dispatcher: Dispatcher;
  readonly key?: string | null;
  readonly lastEventId?: string;
  readonly headers?: Record<string, string>;
}

/** A non-SSE answer (an error, a 204), read whole. */
export interface PlainReply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/**
 * A small SSE client for tests: parses the text/event-stream format as the HTML spec's EventSource does (fields,
 * comments, multi-line data, blank line dispatch) and keeps everything it saw, so tests can wait on it.
 */
export class SseTestClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  retry: number | undefined;
  /** Why the stream broke, if it did not end cleanly (a connection reset, say). */
  failure: unknown;
  /** Resolves when the server ends the stream (or the client closes it). */
  readonly ended: Promise<void>;
  private serverEnded = false;
  private waiters: (() => void)[] = [];

  private constructor(
    readonly status: number,
    readonly headers: Record<string, string | string[] | undefined>,
    private readonly body: Dispatcher.ResponseData['body'],
    private readonly abort: AbortController,
  ) {
    this.ended = this.consume();
  }

  /** Opens the stream; a response that is not 200 text/event-stream comes back as a PlainReply instead. */
  static async open(url: string, options: OpenOptions): Promise<SseTestClient | PlainReply> {
    const abort = new AbortController();
    const key = options.key === undefined ? undefined : options.key;
    const response = await request(url, {
      dispatcher: options.dispatcher,
      signal: abort.signal,
      headers: {
        accept: 'text/event-stream',
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(options.lastEventId !== undefined ? { 'last-event-id': options.lastEventId } : {}),
        ...options.headers,
      },
    });
    const headers = response.headers as Record<string, string | string[] | undefined>;
    if (response.statusCode !== 200 || !String(headers['content-type']).startsWith('text/event-stream')) {
      return { status: response.statusCode, headers, body: await response.body.text() };
    }
    return new SseTestClient(response.statusCode, headers, response.body, abort);
  }

  /** True once the server closed the stream by itself. */
  get closedByServer(): boolean {
    return this.serverEnded;
  }

  get ids(): number[] {
    return this.events.map((e) => Number(e.id));
  }

  /** Parsed `data` of each event. */
  get data(): Record<string, unknown>[] {
    return this.events.map((e) => JSON.parse(e.data) as Record<string, unknown>);
  }

  /** Waits until `predicate` holds over what was received so far. */
  async until(predicate: (client: SseTestClient) => boolean, what: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this)) {
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}; got ids ${JSON.stringify(this.ids)}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  waitForEvents(count: number, timeoutMs?: number): Promise<void> {
    return this.until((c) => c.events.length >= count, `${count} events`, timeoutMs);
  }

  /** Closes the stream from the client side, as a browser tab that goes away does. */
  async close(): Promise<void> {
    this.abort.abort();
    await this.ended;
  }

  private async consume(): Promise<void> {
    let buffer = '';
    let fields: { id?: string; event?: string; data: string[] } = { data: [] };
    let lastId: string | undefined;
    try {
      for await (const chunk of this.body) {
        buffer += (chunk as Buffer).toString('utf8');
        let newline: number;
        while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
          if (line === '') {
            if (fields.id !== undefined) lastId = fields.id;
            if (fields.data.length) {
              this.events.push({ id: lastId, event: fields.event ?? 'message', data: fields.data.join('\n') });
            }
            fields = { data: [] };
            continue;
          }
          if (line.startsWith(':')) {
            this.comments.push(line.slice(1).trim());
            continue;
          }
          const colon = line.indexOf(':');
          const name = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (name === 'id') fields.id = value;
          else if (name === 'event') fields.event = value;
          else if (name === 'data') fields.data.push(value);
          else if (name === 'retry' && /^\d+$/.test(value)) this.retry = Number(value);
        }
        this.notify();
      }
      this.serverEnded = true;
    } catch (error) {
      if (!this.abort.signal.aborted) this.failure = error;
    } finally {
      this.notify();
    }
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

export const isStream = (reply: SseTestClient | PlainReply): reply is SseTestClient => reply instanceof SseTestClient;

/**
 * How the fanout tests open streams: `openStream` asserts an SSE answer (closed when the test file ends, through
 * `defer`), `openPlain` asserts anything else. The key is the test's read key unless one (or null, none) is given.
 */
export function sseOpeners(setup: {
  readonly dispatcher: Dispatcher;
  readonly defaultKey: () => string;
  readonly defer: (cleanup: () => unknown) => void;
}) {
  type Options = { key?: string | null; lastEventId?: string };
  const open = (base: string, path: string, options: Options = {}) =>
    SseTestClient.open(`${base}${path}`, {
      dispatcher: setup.dispatcher,
      key: options.key === undefined ? setup.defaultKey() : options.key,
      ...(options.lastEventId !== undefined ? { lastEventId: options.lastEventId } : {}),
    });
  const openStream = async (base: string, path: string, options?: Options): Promise<SseTestClient> => {
    const reply = await open(base, path, options);
    if (!isStream(reply)) assert.fail(`expected a stream, got ${reply.status} ${reply.body}`);
    setup.defer(() => reply.close());
    return reply;
  };
  const openPlain = async (base: string, path: string, options?: Options): Promise<PlainReply> => {
    const reply = await open(base, path, options);
    if (isStream(reply)) {
      await reply.close();
      assert.fail('expected no stream');
    }
    return reply;
  };
  return { openStream, openPlain };
}
