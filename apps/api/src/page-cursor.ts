import { ProblemError } from '#libs/platform';

/**
 * Where a newest-first page ends: the last row's creation time as Postgres wrote it (text keeps the microseconds a JS
 * Date would drop, so no row is skipped or repeated) and its id, to break ties.
 */
export interface PageCursor {
  readonly at: string;
  readonly id: string;
}

/** A cursor is the JSON of the last row's sort key, base64url: opaque to clients, checked when it comes back. */
export const encodeCursor = (parts: readonly unknown[]): string =>
  Buffer.from(JSON.stringify(parts)).toString('base64url');

/** The parts of a cursor `valid` accepts, or a 400 naming `after`. */
export function decodeCursorParts<T extends readonly unknown[]>(
  text: string,
  valid: (parts: readonly unknown[]) => parts is T,
): T {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  if (!Array.isArray(value) || !valid(value)) {
    throw new ProblemError('malformed_request', 'after must be the cursor of a previous page (its next link)');
  }
  return value;
}

const isTimeAndId = (parts: readonly unknown[]): parts is [string, string] =>
  parts.length === 2 &&
  typeof parts[0] === 'string' &&
  !Number.isNaN(Date.parse(parts[0])) &&
  typeof parts[1] === 'string' &&
  /^[0-9a-f-]{36}$/.test(parts[1]);

export function decodeCursor(text: string | undefined): PageCursor | undefined {
  if (text === undefined) return undefined;
  const [at, id] = decodeCursorParts(text, isTimeAndId);
  return { at, id };
}

/** The next page's link: the same path and filters, after the last row of a full page; null after a short one. */
export function nextPage(
  path: string,
  filters: Record<string, string | number | undefined>,
  rows: readonly { cursor: PageCursor }[],
  limit: number,
): string | null {
  const last = rows.at(-1);
  if (rows.length < limit || !last) return null;
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(filters)) if (value !== undefined) query.set(name, String(value));
  query.set('limit', String(limit));
  query.set('after', encodeCursor([last.cursor.at, last.cursor.id]));
  return `${path}?${query.toString()}`;
}

/** `%` and `_` are LIKE wildcards: a search for "a_b" means those three characters. */
export const likePattern = (text: string): string => `%${text.replace(/[\\%_]/g, '\\$&')}%`;
