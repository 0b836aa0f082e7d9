import { isDatabaseOutage } from '#libs/db';

/** What pg and pg-pool say, without a code, when a connection is lost or cannot be had in time. */
const LOST_CONNECTION =
  /Connection terminated|timeout exceeded when trying to connect|not queryable|Client was closed|Connection refused/i;

/**
 * Whether an error means "a dependency cannot be reached", which the edge answers with 503 (the client may retry)
 * rather than 500 (a bug): a Postgres that restarts, refuses connections or is out of them (isDatabaseOutage, shared
 * with group commit); a lost socket; a Kafka or registry client's retriable failure.
 */
export function isDependencyUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  if (isDatabaseOutage(error)) return true;
  const { retriable, message, errors } = error as { retriable?: unknown; message?: unknown; errors?: unknown };
  if (retriable === true) return true;
  if (typeof message === 'string' && LOST_CONNECTION.test(message)) return true;
  // Node reports a refused connection to a host with several addresses as an AggregateError of each attempt.
  return Array.isArray(errors) && errors.some(isDependencyUnavailable);
}
