/** Postgres SQLSTATE classes of a server that cannot serve right now: connection (08), resources (53), shutdown (57P0x). */
const UNAVAILABLE_SQLSTATE = /^(08|53|57P0)/;
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH']);
/** What pg and pg-pool say, without a code, when a connection is lost or cannot be had in time. */
const LOST_CONNECTION =
  /Connection terminated|timeout exceeded when trying to connect|not queryable|Client was closed|Connection refused/i;

/**
 * Whether an error means "a dependency cannot be reached", which the edge answers with 503 (the client may retry)
 * rather than 500 (a bug): a Postgres that restarts, refuses connections or is out of them; a lost socket; a Kafka or
 * registry client's retriable failure.
 */
export function isDependencyUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, retriable, message, errors } = error as {
    code?: unknown;
    retriable?: unknown;
    message?: unknown;
    errors?: unknown;
  };
  if (retriable === true) return true;
  if (typeof code === 'string' && (UNAVAILABLE_SQLSTATE.test(code) || SOCKET_CODES.has(code))) return true;
  if (typeof message === 'string' && LOST_CONNECTION.test(message)) return true;
  // Node reports a refused connection to a host with several addresses as an AggregateError of each attempt.
  return Array.isArray(errors) && errors.some(isDependencyUnavailable);
}
