import { createApiClient, followEventStream, type ApiClient, type StreamEvent } from '#libs/api-client';
import { session } from './session';

/** An answer other than 2xx, with the problem's title and detail when there is one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: { title?: string; detail?: string; errors?: string[] } | undefined,
  ) {
    super([problem?.title ?? `HTTP ${status}`, problem?.detail].filter(Boolean).join(': '));
  }
}

export const api = (): ApiClient => createApiClient({ baseUrl: location.origin, apiKey: session.key() ?? undefined });

/** The data of a typed client call, or an ApiError. */
export async function data<T>(request: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const result = await request;
  if (!result.response.ok) throw new ApiError(result.response.status, result.error as ApiError['problem']);
  return result.data as T;
}

/** An event stream of the API, with the key as a header, resumed after drops. */
export function events(
  path: string,
  options: { signal: AbortSignal; isLast?: (event: StreamEvent) => boolean },
): AsyncGenerator<StreamEvent> {
  return followEventStream({
    open: (lastEventId, signal) =>
      fetch(path, {
        headers: {
          accept: 'text/event-stream',
          authorization: `Bearer ${session.key() ?? ''}`,
          ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
        },
        ...(signal ? { signal } : {}),
      }),
    signal: options.signal,
    maxRetries: 1_000,
    ...(options.isLast ? { isLast: options.isLast } : {}),
  });
}

/** Follows a stream until the signal aborts, calling `onEvent` for each event; errors end it quietly. */
export function follow(
  path: string,
  signal: AbortSignal,
  onEvent: (event: StreamEvent) => void,
  isLast?: (event: StreamEvent) => boolean,
): void {
  void (async () => {
    try {
      for await (const event of events(path, { signal, ...(isLast ? { isLast } : {}) })) onEvent(event);
    } catch {
      // Aborted (the view closed) or refused (the view shows its own error from its reads).
    }
  })();
}
