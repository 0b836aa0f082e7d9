import { EventSourceParserStream } from 'eventsource-parser/stream';

export interface StreamEvent {
  readonly id: string | undefined;
  readonly event: string;
  readonly data: string;
}

/** The server refused the stream (4xx): retrying would get the same answer. */
export class StreamRefused extends Error {
  override readonly name = 'StreamRefused';
  constructor(readonly response: Response) {
    super(`the event stream was refused with ${response.status}`);
  }
}

/** The stream dropped this many times in a row without bringing a new event. */
export class StreamLost extends Error {
  override readonly name = 'StreamLost';
}

/**
 * Requests an event stream of the API with the key as a header (a browser's EventSource cannot send one), after
 * `lastEventId` when given: what `FollowOptions.open` does for the CLI and the console.
 */
export function requestEventStream(
  target: { readonly baseUrl: string; readonly apiKey?: string | undefined; readonly path: string },
  lastEventId: string | undefined,
  signal: AbortSignal | undefined,
): Promise<Response> {
  return fetch(new URL(target.path, target.baseUrl), {
    headers: {
      accept: 'text/event-stream',
      ...(target.apiKey ? { authorization: `Bearer ${target.apiKey}` } : {}),
      ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
    },
    ...(signal ? { signal } : {}),
  });
}

export interface FollowOptions {
  /** Opens the stream after `lastEventId` (sent as Last-Event-ID), or from the start. */
  open(lastEventId: string | undefined, signal: AbortSignal | undefined): Promise<Response>;
  readonly lastEventId?: string | undefined;
  /** An event after which the stream has nothing more to say (a run's terminal event): no reconnect after it. */
  readonly isLast?: (event: StreamEvent) => boolean;
  /** Reconnects in a row without a new event before giving up with StreamLost. */
  readonly maxRetries?: number;
  /** The wait before reconnecting, until the server's `retry:` field sets another. */
  readonly retryMs?: number;
  readonly signal?: AbortSignal;
  readonly onReconnect?: (info: { attempt: number; lastEventId: string | undefined; error?: unknown }) => void;
}

/**
 * Server-Sent Events over fetch (which, unlike a browser's EventSource, can send an Authorization header), resumed
 * with Last-Event-ID after a drop as EventSource would: a cut stream, a reset connection or a 5xx reconnects; a 204
 * (nothing after that id, the subject is finished) or an `isLast` event ends it; a 4xx throws StreamRefused.
 */
export async function* followEventStream(options: FollowOptions): AsyncGenerator<StreamEvent> {
  let lastEventId = options.lastEventId;
  let retryMs = options.retryMs ?? 1_000;
  const maxRetries = options.maxRetries ?? 10;
  for (let failures = 0; ;) {
    let error: unknown;
    let progressed = false;
    try {
      const response = await options.open(lastEventId, options.signal);
      if (response.status === 204) return;
      if (response.status >= 400 && response.status < 500) throw new StreamRefused(response);
      if (!response.ok || !response.body) throw new Error(`the event stream answered ${response.status}`);
      const events = response.body
        .pipeThrough(new TextDecoderStream())
        .pipeThrough(new EventSourceParserStream({ onRetry: (ms) => (retryMs = ms) }));
      for await (const message of events) {
        const event: StreamEvent = { id: message.id, event: message.event ?? 'message', data: message.data };
        if (event.id !== undefined) lastEventId = event.id;
        progressed = true;
        failures = 0;
        yield event;
        if (options.isLast?.(event)) return;
      }
    } catch (caught) {
      if (caught instanceof StreamRefused || options.signal?.aborted) throw caught;
      error = caught;
    }
    if (!progressed && ++failures > maxRetries) {
      throw new StreamLost(`the event stream dropped ${maxRetries + 1} times without a new event`, { cause: error });
    }
    options.onReconnect?.({ attempt: failures, lastEventId, ...(error === undefined ? {} : { error }) });
    await new Promise((resolve) => setTimeout(resolve, retryMs));
  }
}
