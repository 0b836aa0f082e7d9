import { createHash } from 'node:crypto';
import { ProblemError } from '#libs/platform';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids are uuids; anything else cannot name a workflow, so it is "not found" rather than a database error. */
export function requireUuid(value: string, what: string): string {
  if (!UUID.test(value)) throw new ProblemError('not_found', `no ${what} ${JSON.stringify(value)}`);
  return value.toLowerCase();
}

export function requireObject(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ProblemError('malformed_request', 'the body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

/** Visible ASCII, 1 to 255 characters: what clients put in Idempotency-Key in practice (UUIDs, ULIDs, hashes). */
export function idempotencyKey(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  const value = Array.isArray(header) ? header[0] : header;
  if (!value || !/^[\x21-\x7e]{1,255}$/.test(value)) {
    throw new ProblemError('malformed_request', 'Idempotency-Key must be 1 to 255 visible ASCII characters');
  }
  return value;
}

export const hashBody = (body: unknown): string => createHash('sha256').update(JSON.stringify(body)).digest('hex');

export function positiveInt(value: string | undefined, name: string, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > max) {
    throw new ProblemError('malformed_request', `${name} must be an integer from 0 to ${max}`);
  }
  return n;
}
