import {
  createApiClient,
  followEventStream,
  requestEventStream,
  type ApiClient,
  type StreamEvent,
} from '#libs/api-client';
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

export interface FollowOptions {
  /** An event after which the stream has nothing more to say (a run's terminal event). */
  readonly isLast?: (event: StreamEvent) => boolean;
  /** Start after this event (a workflow's stream is numbered by version: the version the view already has). */
  readonly lastEventId?: string;
}

/**
 * Follows an event stream of the API until the signal aborts, calling `onEvent` for each event: the key goes as a
 * header, drops are resumed after the last event. Errors end it quietly (the view shows its own from its reads).
 */
export function follow(
  path: string,
  signal: AbortSignal,
  onEvent: (event: StreamEvent) => void,
  options: FollowOptions = {},
): void {
  const events = followEventStream({
    open: (lastEventId, openSignal) =>
      requestEventStream(
        { baseUrl: location.origin, apiKey: session.key() ?? undefined, path },
        lastEventId,
        openSignal,
      ),
    signal,
    maxRetries: 1_000,
    ...(options.lastEventId ? { lastEventId: options.lastEventId } : {}),
    ...(options.isLast ? { isLast: options.isLast } : {}),
  });
  void (async () => {
    try {
      for await (const event of events) onEvent(event);
    } catch {
      // Aborted (the view closed) or refused.
    }
  })();
}
