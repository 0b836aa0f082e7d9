/** Socket errors of a connection to Postgres. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
]);

/**
 * Whether an error is Postgres (or the way to it) failing rather than a statement failing on the data it was given:
 * connection exceptions (08), insufficient resources (53), operator intervention (57: shutdowns, and statements
 * cancelled by statement_timeout), system errors (58), socket errors, and the connection losses pg reports without
 * a code. Retrying such a failure piece by piece would only multiply the load on a database in trouble.
 */
export function isDatabaseOutage(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string') return /^(08|53|57|58)/.test(code) || NETWORK_CODES.has(code);
  return typeof message === 'string' && /connection terminated|connection timeout|not queryable/i.test(message);
}

/** A data exception (SQLSTATE class 22): a value the statement could not store, such as U+0000 in jsonb. */
export function isDataException(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && code.startsWith('22');
}
