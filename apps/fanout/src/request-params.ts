import { ProblemError } from '#libs/platform';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids are uuids; anything else cannot name a run or workflow, so it is "not found" rather than a database error. */
export function requireUuid(value: string, what: string): string {
  if (!UUID.test(value)) throw new ProblemError('not_found', `no ${what} ${JSON.stringify(value)}`);
  return value.toLowerCase();
}

/**
 * Where the client resumes: the `Last-Event-ID` header an EventSource sends on reconnect, else the `lastEventId` query
 * parameter (polyfills that cannot set headers), else 0 (from the start).
 */
export function lastEventId(header: string | string[] | undefined, query: string | string[] | undefined): number {
  const value = [header, query].map((v) => (Array.isArray(v) ? v[0] : v)?.trim()).find((v) => v);
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
