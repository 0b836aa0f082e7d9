import { ProblemError } from '#libs/platform';

/**
 * Where the client resumes: the `Last-Event-ID` header an EventSource sends on reconnect, else the `lastEventId` query
 * parameter (polyfills that cannot set headers), else 0 (from the start).
 */
export function lastEventId(header: string | undefined, query: string | undefined): number {
  const value = [header, query].map((v) => v?.trim()).find((v) => v);
  if (value === undefined) return 0;
  const id = Number(value);
  if (!/^\d{1,16}$/.test(value) || !Number.isSafeInteger(id)) {
    throw new ProblemError(
      'malformed_request',
      `Last-Event-ID must be an event id this stream sent, not ${JSON.stringify(value)}`,
    );
  }
  return id;
}
